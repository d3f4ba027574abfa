"""BLEU-4 (smoothed) and ROUGE-L F, written here so rewards need neither nltk nor rouge_score.

Formulas follow the libraries SATORI-R1 calls:

* BLEU: ``nltk.translate.bleu_score.sentence_bleu([ref], hyp,
  smoothing_function=SmoothingFunction().method1)`` with the default weights (0.25 x 4):
  clipped n-gram precisions, a zero count replaced by 0.1 / total (method1), 0 when no
  unigram matches, brevity penalty exp(1 - r/c) when the hypothesis is not longer.
* ROUGE-L: ``rouge_score``'s F-measure of the longest common subsequence, 2PR / (P + R).

Tokenisers differ from the originals (documented in docs/rewards.md): BLEU tokens are
lower-cased runs of letters/digits plus single punctuation marks (close to
``nltk.word_tokenize`` for plain captions, which needs the punkt data this keeps out);
ROUGE tokens are lower-cased alphanumeric runs as in ``rouge_score`` but without its Porter
stemmer, so "dogs"/"dog" do not match here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_BLEU_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")


def bleu_tokens(text: str) -> list[str]:
    return _BLEU_TOKEN.findall(text.lower())


def rouge_tokens(text: str) -> list[str]:
    return _ROUGE_TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(reference: Sequence[str], hypothesis: Sequence[str], max_n: int = 4,
                  epsilon: float = 0.1) -> float:
    """Smoothed sentence BLEU of token lists (one reference), as NLTK with method1."""
    hyp_len, ref_len = len(hypothesis), len(reference)
    if hyp_len == 0:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        counts = _ngrams(hypothesis, n)
        ref_counts = _ngrams(reference, n)
        numerator = sum(min(c, ref_counts[g]) for g, c in counts.items())
        denominator = max(1, sum(counts.values()))
        if n == 1 and numerator == 0:
            return 0.0
        p = numerator / denominator if numerator else epsilon / denominator
        log_sum += math.log(p) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_sum)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyro 2004): O(len(b)) big-int
    operations instead of a len(a) x len(b) table."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l_f(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """ROUGE-L F-measure of token lists (rouge_score's ``fmeasure``)."""
    lcs = lcs_length(reference, hypothesis)
    if lcs == 0:
        return 0.0
    precision = lcs / len(hypothesis)
    recall = lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def caption_score(reference: str, hypothesis: str) -> float:
    """SATORI's caption reward: (BLEU-4 smoothed + ROUGE-L F) / 2."""
    bleu = sentence_bleu(bleu_tokens(reference), bleu_tokens(hypothesis))
    rouge = rouge_l_f(rouge_tokens(reference), rouge_tokens(hypothesis))
    return (bleu + rouge) / 2
