"""Annotators: who writes the text a corpus needs (reasoning, captions, questions).

A profile (``annotators/NAME.yaml``) names a provider and its settings; a pipeline's
``annotate`` step names the profile, the prompt template (``annotators/templates/``) and, for
the offline ``programmatic`` provider, the registered Python function that derives the text
from ground truth. ``--annotator PROFILE`` swaps the profile of every annotate step.

Modules: ``profile`` (the YAML), ``request`` (the request/answer every backend speaks, and
its errors), ``prompt`` (templates and answer checks), ``gemini`` and ``openai_chat`` (the
backends), ``limits`` (rate limiter, backoff), ``cache`` (the response cache), ``client``
(concurrency, retries, cost). Users' guide: docs/annotators.md.
"""

from r1data.annotators.profile import AnnotatorProfile, load_profile, providers  # noqa: F401

# the API providers register themselves (their client libraries are imported only when used)
from r1data.annotators import gemini, openai_chat  # noqa: E402,F401
