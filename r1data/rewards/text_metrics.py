"""SATORI-R1's caption score with the libraries its ``plugin.py`` calls.

* BLEU: ``nltk.translate.bleu_score.sentence_bleu([ref], hyp,
  smoothing_function=SmoothingFunction().method1)`` (weights 0.25 x 4) on ``nltk.word_tokenize``
  tokens of the lower-cased captions.
* ROUGE-L: ``rouge_score.rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)`` F-measure of
  the raw captions (its own tokenizer: lower case, alphanumeric runs, Porter stems).

``word_tokenize`` splits sentences with NLTK's trained Punkt model (the ``punkt_tab`` data), which
no package on PyPI ships and this machine cannot download. :func:`word_tokens` uses that data when
NLTK finds it (``python -m nltk.downloader punkt_tab`` once, or ``$NLTK_DATA``); otherwise it
splits sentences with NLTK's Punkt algorithm and no trained parameters, then applies the same
word tokenizer ``word_tokenize`` uses. The tokens are the same except after a period that the
English model knows as an abbreviation (``mr.``, ``e.g.``): there the fallback starts a new
sentence and splits the period off. :func:`tokenizer_name` says which one ran.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _sentence_splitter() -> tuple[str, Any]:
    """(name, ``tokenize(text) -> sentences``): NLTK's English Punkt model when its data is
    installed, else Punkt without trained parameters."""
    with _LOCK:
        if "split" not in _STATE:
            from nltk.tokenize.punkt import PunktSentenceTokenizer

            try:
                from nltk.tokenize import PunktTokenizer

                _STATE["split"] = ("nltk.word_tokenize (punkt_tab english)", PunktTokenizer("english").tokenize)
            except (LookupError, ImportError, OSError):
                _STATE["split"] = ("nltk Punkt, untrained parameters (punkt_tab not installed)",
                                   PunktSentenceTokenizer().tokenize)
        return _STATE["split"]


def tokenizer_name() -> str:
    """Which sentence splitter :func:`word_tokens` uses (see the module docstring)."""
    return _sentence_splitter()[0]


def word_tokens(text: str) -> list[str]:
    """``nltk.word_tokenize(text)``, with the offline fallback of the module docstring."""
    from nltk.tokenize import NLTKWordTokenizer

    words = _STATE.get("words")
    if words is None:
        words = _STATE["words"] = NLTKWordTokenizer()
    return [tok for sent in _sentence_splitter()[1](text) for tok in words.tokenize(sent)]


def sentence_bleu(reference: list[str], hypothesis: list[str]) -> float:
    """NLTK's smoothed sentence BLEU-4 (method1) of token lists, one reference."""
    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import sentence_bleu as nltk_bleu

    if not hypothesis:
        return 0.0
    return float(nltk_bleu([reference], hypothesis, smoothing_function=SmoothingFunction().method1))


def rouge_l_f(reference: str, hypothesis: str) -> float:
    """rouge_score's ROUGE-L F-measure with the Porter stemmer, on raw strings."""
    scorer = _STATE.get("rouge")
    if scorer is None:
        from rouge_score import rouge_scorer

        scorer = _STATE["rouge"] = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(scorer.score(reference, hypothesis)["rougeL"].fmeasure)


@functools.lru_cache(maxsize=1 << 14)
def caption_score(reference: str, hypothesis: str) -> float:
    """SATORI's caption reward: (BLEU-4 smoothed + ROUGE-L F) / 2. Cached: a GRPO group scores
    several completions against one reference, often with repeated captions."""
    bleu = sentence_bleu(word_tokens(reference.lower()), word_tokens(hypothesis.lower()))
    return (bleu + rouge_l_f(reference, hypothesis)) / 2
