"""r1data: a data engine for R1-style multimodal reasoning corpora.

The engine lives in this package; what it runs is declared in the top-level folders
(``pipelines/``, ``schemas/``, ``annotators/``, ``datasets_cards/``, ``train/``), which ship
inside the wheel as ``r1data/_assets``.

Public entry points::

    from r1data import build, open_corpus
    result = build("scene30k", output="out/scene30k", size=200)
    corpus = open_corpus("out/scene30k")
    ds = corpus.to_datasets()          # datasets.DatasetDict with the declared Features
"""

__version__ = "0.1.0"

from r1data.errors import R1DataError, SpecError, UsageError  # noqa: E402


def build(*args, **kwargs):  # noqa: D103 - thin lazy wrapper, documented on the target
    from r1data.engine.runner import build as _build

    return _build(*args, **kwargs)


build.__doc__ = "See :func:`r1data.engine.runner.build`."


def open_corpus(path):
    """Open a built corpus folder (see :class:`r1data.corpus.Corpus`)."""
    from r1data.corpus import Corpus

    return Corpus(path)


__all__ = ["__version__", "build", "open_corpus", "R1DataError", "SpecError", "UsageError"]
