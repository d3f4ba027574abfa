"""Annotators: who writes the text a corpus needs (reasoning, captions, questions).

A profile (``annotators/NAME.yaml``) names a provider and its settings; a pipeline's
``annotate`` step names the profile, the prompt template (``annotators/templates/``) and, for
the offline ``programmatic`` provider, the registered Python function that derives the text
from ground truth. ``--annotator PROFILE`` swaps the profile of every annotate step.
"""

from r1data.annotators.profile import AnnotatorProfile, load_profile, providers  # noqa: F401
