"""Annotator profiles: ``annotators/NAME.yaml`` parsed into :class:`AnnotatorProfile`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from r1data.assets import Assets
from r1data.registry import Registry
from r1data.yamlio import load_yaml, pydantic_problems, raise_problems

# provider name -> factory(profile, ctx) returning an object with ``annotate(rows, ...)``
providers: Registry[Any] = Registry("annotator provider")


class AnnotatorProfile(BaseModel):
    """How to reach one annotator. Keys never live here: only the name of their env var."""

    model_config = ConfigDict(extra="forbid")
    provider: Literal["programmatic", "gemini", "openai"]
    description: str = ""
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = Field(8, gt=0)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    temperature: float = 0.0
    max_output_tokens: int = Field(1024, gt=0)
    price_input_per_million: float = Field(0.0, ge=0)
    price_output_per_million: float = Field(0.0, ge=0)
    response_schema: dict[str, Any] | None = None
    max_retries: int = Field(5, ge=0)
    timeout_s: float = Field(120.0, gt=0)
    name: str = ""          # filled from the file name
    file: str = ""


def load_profile(name_or_path: str | Path, assets: Assets) -> AnnotatorProfile:
    path = assets.resolve("annotators", name_or_path)
    data, lines = load_yaml(path)
    try:
        profile = AnnotatorProfile.model_validate(data or {})
    except ValidationError as e:
        raise_problems(str(path), pydantic_problems(e, str(path), lines))
        raise AssertionError("unreachable")
    return profile.model_copy(update={"name": path.stem, "file": str(path)})
