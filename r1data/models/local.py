"""Generation by a local checkpoint (what ``r1data train`` wrote) with transformers, batched.

The model and its processing class load as ``r1data train`` loads them
(:mod:`r1data.train.models`): a tokenizer for a text model, Qwen2.5-VL's processor (the
image-only one where torchvision is missing) for a vision model, with the recipe's pixel
bounds. Prompts go through the checkpoint's chat template with the generation prompt, as GRPO's
do; ``batch_size`` prompts at a time, left-padded, sorted by length so a batch pads little; N
samples of a prompt are ``num_return_sequences`` of one ``generate`` call. Temperature 0 is
greedy decoding (one answer, repeated for each sample). Sampling is seeded per batch from
``seed``, so a rerun over the same batches gives the same completions.

The device is the first GPU when there is one, else the CPU; the recipe's ``dtype`` applies on
a GPU (on a CPU the weights keep their saved dtype).
"""

from __future__ import annotations

import hashlib
from typing import Any

from r1data.models.prompts import Prompt
from r1data.models.resolve import ModelRef


class LocalGenerator:
    """Completions from a local checkpoint (see the module docstring)."""

    def __init__(self, ref: ModelRef, *, temperature: float, max_new_tokens: int, batch_size: int = 8,
                 dtype: str | None = None, min_pixels: int | None = None, max_pixels: int | None = None,
                 device: str | None = None):
        import torch

        from r1data.train.models import is_vision_model, load_model, load_processing_class, tokenizer_of

        assert ref.path is not None
        self.ref = ref
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        path = str(ref.path)
        self.vision = is_vision_model(path)
        self.processing_class = load_processing_class(path, self.vision, min_pixels, max_pixels)
        self.tokenizer = tokenizer_of(self.processing_class)
        self.tokenizer.padding_side = "left"          # generation continues from the right end
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = load_model(path, self.vision, dtype if self.device.type == "cuda" else None)
        self.model.to(self.device).eval()

    @property
    def settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_new_tokens": self.max_new_tokens,
                "batch_size": self.batch_size, "device": str(self.device), "vision": self.vision}

    def chat_text(self, prompt: Prompt) -> str:
        """The prompt through the chat template, ending with the generation prompt."""
        return self.processing_class.apply_chat_template(prompt.turns, tokenize=False, add_generation_prompt=True)

    def generate(self, prompts: list[Prompt], samples: int = 1, seed: int = 0) -> list[list[Any]]:
        """``samples`` completions per prompt, in order (the text of each)."""
        texts = [self.chat_text(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(texts[i]))
        out: list[list[Any]] = [[] for _ in prompts]
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            key = f"{seed}|{prompts[chunk[0]].id}|{len(chunk)}"
            for i, completions in zip(chunk, self._generate([texts[i] for i in chunk], [prompts[i] for i in chunk],
                                                            samples, key)):
                out[i] = completions
        return out

    def _generate(self, texts: list[str], prompts: list[Prompt], samples: int, key: str) -> list[list[str]]:
        import torch

        images = [im for p in prompts for im in (p.images or [])]
        if self.vision and images:
            inputs = self.processing_class(text=texts, images=images, padding=True, return_tensors="pt")
        else:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.device)
        greedy = self.temperature <= 0
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if greedy:
            kwargs["do_sample"] = False
        else:
            kwargs.update(do_sample=True, temperature=self.temperature, num_return_sequences=samples)
            torch.manual_seed(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") >> 1)
        with torch.inference_mode():
            generated = self.model.generate(**inputs, **kwargs)
        new = generated[:, inputs["input_ids"].shape[1]:]
        decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        if greedy:
            return [[text] * samples for text in decoded]
        return [decoded[j * samples:(j + 1) * samples] for j in range(len(texts))]

    def take_usage(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        pass
