"""Built-in generic steps. Importing this package registers them."""

from r1data.steps import annotate, built_corpus, checks, dedup, rollout, split, synthetic  # noqa: F401
from r1data.steps.base import Reject, Source, StepContext, source, step  # noqa: F401
