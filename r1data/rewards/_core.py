"""The reward registry and the helpers every reward shares.

A reward is a plain function with TRL's reward signature::

    fn(prompts=None, completions=..., *, COLUMN=None, ..., PARAM=default, ..., **_) -> list[float | None]

``completions`` are plain strings or conversational turns (``[{"role": "assistant",
"content": str}]``); each dataset column arrives as a keyword argument holding one value per
completion; ``None`` in the result marks a row the reward does not apply to (TRL turns it
into NaN and leaves it out of the mean). Parameters (thresholds, weights) are keyword-only
with the paper's values as defaults; :func:`load` binds them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from r1data.errors import UnknownNameError, UsageError
from r1data.parsing import completion_text

RewardFn = Callable[..., list]


@dataclass(frozen=True)
class RewardInfo:
    """What the registry knows of one reward."""

    name: str
    fn: RewardFn
    columns: tuple[str, ...]        # dataset columns it reads
    paper: str                      # where the formula comes from
    rule_based: bool                # False for rewards that run a model or a judge
    backend: Callable[[dict[str, Any]], str] | None = None   # params -> what scores it here (a model)

    @property
    def params(self) -> dict[str, Any]:
        """Bindable parameters and their defaults (keyword-only, not columns)."""
        sig = inspect.signature(self.fn)
        return {n: p.default for n, p in sig.parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in self.columns}

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.fn) or "").split("\n\n")[0].replace("\n", " ")


_REGISTRY: dict[str, RewardInfo] = {}


def reward(name: str, *, columns: Sequence[str] = (), paper: str = "", rule_based: bool = True,
           backend: Callable[[dict[str, Any]], str] | None = None) -> Callable[[RewardFn], RewardFn]:
    """Register a reward under ``name`` (``family.component``).

    The function's ``__name__`` becomes ``name``, so TRL logs ``rewards/<name>/mean`` and two
    families' ``format`` rewards do not collide in the logs. ``backend(params)`` says what would
    score it on this machine (a model), for the manifest, ``r1data eval`` and the card."""

    def deco(fn: RewardFn) -> RewardFn:
        sig = inspect.signature(fn)
        missing = [c for c in columns if c not in sig.parameters]
        if missing:
            raise TypeError(f"reward {name}: columns {missing} are not parameters of {fn.__qualname__}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise UsageError(f"reward {name!r} is registered twice "
                             f"({existing.fn.__module__}.{existing.fn.__qualname__} and "
                             f"{fn.__module__}.{fn.__qualname__})")
        fn.__name__ = name
        _REGISTRY[name] = RewardInfo(name, fn, tuple(columns), paper, rule_based, backend)
        return fn

    return deco


def _ensure_loaded() -> None:
    # the family modules register on import; importing the package imports them all
    import r1data.rewards  # noqa: F401


def names() -> list[str]:
    """Every registered reward name, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def info(name: str) -> RewardInfo:
    """The registry entry of ``name``; an unknown name suggests the closest."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("reward", name, _REGISTRY) from None


def backends(specs: Sequence[Any]) -> dict[str, str]:
    """What scores each model-backed reward of ``specs`` (``{reward, params}`` entries) here,
    e.g. ``{"scene30k.semantic": "CLIP ViT-B/32 text features (...)"}``; cheap, loads nothing."""
    out: dict[str, str] = {}
    for spec in specs:
        name = getattr(spec, "reward", None) or spec.name     # a RewardSpec or an eval RewardUse
        entry = info(name)
        if entry.backend is not None:
            try:
                out[name] = entry.backend(dict(spec.params or {}))
            except UsageError as e:
                out[name] = f"unavailable: {e.message}"
    return out


def load(name: str, **params: Any) -> RewardFn:
    """The reward ``name`` with ``params`` bound, ready for ``GRPOTrainer(reward_funcs=[...])``.

    ``load("xiangqi.good", margin=50)`` returns a ``functools.partial`` that keeps the
    reward's ``__name__`` (TRL unwraps partials to log the function's name). An unknown
    parameter is a :class:`UsageError` listing the known ones."""
    entry = info(name)
    if not params:
        return entry.fn
    known = entry.params
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UsageError(f"reward {name} has no parameter {', '.join(map(repr, unknown))} "
                         f"(parameters: {', '.join(known) or 'none'})")
    bound = functools.partial(entry.fn, **params)
    functools.update_wrapper(bound, entry.fn)
    return bound


# -- helpers for reward bodies ---------------------------------------------------------------

def texts(completions: Sequence[Any] | None) -> list[str]:
    """Completion texts, plain or conversational."""
    return [completion_text(c) for c in (completions or [])]


def column(values: Sequence[Any] | None, n: int, name: str, reward_name: str) -> list[Any]:
    """A dataset column as a list of ``n`` values; a missing column is a usage error."""
    if values is None:
        raise UsageError(f"reward {reward_name} needs the dataset column {name!r}")
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise UsageError(f"reward {reward_name}: column {name!r} must hold one value per completion, "
                         f"got {type(values).__name__}")
    values = list(values)
    if len(values) != n:
        raise UsageError(f"reward {reward_name}: column {name!r} has {len(values)} values "
                         f"for {n} completions")
    return values


def optional_column(values: Sequence[Any] | None, n: int, name: str, reward_name: str) -> list[Any]:
    """Like :func:`column`, but a missing column reads as ``None`` for every row."""
    return [None] * n if values is None else column(values, n, name, reward_name)


def weighted(parts: Sequence[tuple[float, Sequence[float | None]]], none_as_zero: bool = True) -> list[float | None]:
    """Row-wise weighted sum of reward lists. ``None`` counts as 0 (the papers' convention for
    a term that does not apply) unless ``none_as_zero`` is False, where it makes the row None."""
    n = len(parts[0][1]) if parts else 0
    out: list[float | None] = []
    for i in range(n):
        total = 0.0
        for w, values in parts:
            v = values[i]
            if v is None:
                if not none_as_zero:
                    total = None  # type: ignore[assignment]
                    break
                continue
            total += w * v
        out.append(total)
    return out
