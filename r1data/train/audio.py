"""A row's sound track for a model that listens (Qwen2.5-Omni's thinker): decoded, windowed, referenced.

A prompt names each audio part by reference, ``PATH#t=START,END`` (a W3C media-fragment time range in
seconds), written into the user turn as a text part, :func:`audio_text`::

    <|audio_bos|><|AUDIO|>\u27e6PATH#t=0,30\u27e7<|audio_eos|>

so the turns stay plain text (Arrow-friendly in a ``datasets.Dataset``, and unchanged by TRL, which
only moves images). The processor (:class:`r1data.train.omni.OmniProcessor`) finds the references in
the rendered text, decodes them, and leaves ``<|audio_bos|><|AUDIO|><|audio_eos|>``: exactly what
Qwen2.5-Omni's chat template writes for an audio part, expanded to the track's audio tokens. Every
path that tokenizes a prompt (TRL's generation, its log-prob pass, ``r1data eval --model``) goes
through that one ``__call__``, so they all see the same sound.

The whole track of ``PATH`` (a video's sound, or an audio file) is decoded once by ffmpeg to mono
float32 at the feature extractor's rate (16 kHz for Qwen2.5-Omni's Whisper extractor) and kept in a
small cache, since every rollout of a GRPO group and every epoch reads it again. Whisper's extractor
takes at most ``window_seconds`` (30 s) per audio and drops the rest, so a longer track becomes
consecutive windows of at most 30 s, each its own audio part, in order: the model hears all of it
(the 40 s procedural omni videos give two parts). Nothing here imports torch or transformers.
"""

from __future__ import annotations

import math
import re
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

SAMPLING_RATE = 16_000          # Qwen2.5-Omni's WhisperFeatureExtractor
WINDOW_SECONDS = 30.0           # its chunk_length: n_samples / sampling_rate
MIN_SECONDS = 0.05              # a shorter tail window is dropped (under 2 audio tokens)
FRAGMENT = "#t="
OPEN, CLOSE = "\u27e6", "\u27e7"   # ⟦ ⟧ around a reference inside the prompt text
AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS = "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"
MARKER = re.compile(re.escape(AUDIO_TOKEN) + OPEN + "([^" + CLOSE + "]*)" + CLOSE)


class AudioError(ValueError):
    """A sound track that cannot be used; ``reason`` is a short key (``no_audio_track``,
    ``unreadable_audio``) counted where rows are skipped."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_track(path: str | Path, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """The first sound stream of ``path`` as mono float32 samples in [-1, 1] at ``sampling_rate``
    (ffmpeg mixes the channels down and resamples). :class:`AudioError` when the file is missing,
    has no sound stream or does not decode."""
    from r1data.corpora.longvideo.render import ffmpeg_exe

    p = Path(path)
    if not p.is_file():
        raise AudioError("unreadable_audio", f"{p}: no such file")
    cmd = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(p), "-map", "0:a:0", "-vn", "-ac", "1",
           "-ar", str(int(sampling_rate)), "-f", "f32le", "pipe:1"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        raise AudioError("unreadable_audio", f"{p.name}: ffmpeg failed ({e})") from None
    err = out.stderr.decode("utf-8", "replace").strip()
    if out.returncode != 0:
        if "matches no streams" in err or "does not contain any stream" in err:
            raise AudioError("no_audio_track", f"{p.name}: the file has no sound stream")
        raise AudioError("unreadable_audio", f"{p.name}: {err.splitlines()[-1][:160] if err else 'ffmpeg failed'}")
    samples = np.frombuffer(out.stdout, dtype="<f4").copy()
    if samples.size == 0:
        raise AudioError("no_audio_track", f"{p.name}: the sound stream decodes to no samples")
    return samples


class TrackCache:
    """Decoded tracks by (path, rate, size, mtime), the ``max_tracks`` most recently used kept
    (a 40 s track at 16 kHz is 2.6 MB). A failure is kept too, so a bad file is tried once."""

    def __init__(self, max_tracks: int = 32):
        self.max_tracks = max_tracks
        self._tracks: OrderedDict[tuple, np.ndarray | AudioError] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | Path, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
        p = Path(path)
        try:
            st = p.stat()
            key: tuple = (str(p), int(sampling_rate), st.st_size, st.st_mtime_ns)
        except OSError:
            key = (str(p), int(sampling_rate), None, None)
        with self._lock:
            hit = self._tracks.get(key)
            if hit is not None:
                self._tracks.move_to_end(key)
        if hit is None:
            try:
                hit = decode_track(p, sampling_rate)
            except AudioError as e:
                hit = e
            with self._lock:
                self._tracks[key] = hit
                while len(self._tracks) > self.max_tracks:
                    self._tracks.popitem(last=False)
        if isinstance(hit, AudioError):
            raise hit
        return hit


TRACKS = TrackCache()


def windows(n_samples: int, sampling_rate: int = SAMPLING_RATE,
            window_seconds: float = WINDOW_SECONDS) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` seconds covering a track of ``n_samples`` in windows of at most
    ``window_seconds`` (a tail under :data:`MIN_SECONDS` is left out)."""
    duration = n_samples / float(sampling_rate)
    out = []
    n = max(1, math.ceil(duration / window_seconds - 1e-9))
    for i in range(n):
        start, end = i * window_seconds, min(duration, (i + 1) * window_seconds)
        if end - start >= MIN_SECONDS or not out:
            out.append((round(start, 3), round(end, 3)))
    return out


def make_ref(path: str | Path, start: float, end: float) -> str:
    """``PATH#t=START,END``: an audio part's reference to a time range of a file's track."""
    return f"{path}{FRAGMENT}{start:g},{end:g}"


def parse_ref(ref: str) -> tuple[str, float | None, float | None]:
    """``(path, start, end)`` of a reference (no fragment: the whole track, start and end None)."""
    path, sep, frag = ref.rpartition(FRAGMENT)
    if not sep:
        return ref, None, None
    try:
        a, b = frag.split(",", 1)
        return path, float(a), float(b)
    except ValueError:
        return ref, None, None


def track_refs(path: str | Path, sampling_rate: int = SAMPLING_RATE,
               window_seconds: float = WINDOW_SECONDS, cache: TrackCache = TRACKS) -> tuple[list[str], list[int]]:
    """The references of ``path``'s track in windows (see the module docstring) and each
    window's length in samples; :class:`AudioError` when it has no usable sound."""
    samples = cache.get(path, sampling_rate)
    refs, lengths = [], []
    for start, end in windows(samples.size, sampling_rate, window_seconds):
        refs.append(make_ref(path, start, end))
        lengths.append(int(round(end * sampling_rate)) - int(round(start * sampling_rate)))
    return refs, lengths


def load_ref(ref: str, sampling_rate: int = SAMPLING_RATE, cache: TrackCache = TRACKS) -> np.ndarray:
    """The samples a reference names (a slice of the cached track)."""
    path, start, end = parse_ref(ref)
    samples = cache.get(path, sampling_rate)
    if start is None:
        return samples
    return samples[int(round(start * sampling_rate)):int(round(end * sampling_rate))]


def audio_token_count(n_samples: int, sampling_rate: int = SAMPLING_RATE, hop_length: int = 160,
                      max_frames: int = 3000) -> int:
    """Audio tokens Qwen2.5-Omni spends on ``n_samples``: mel frames (hop 160), halved twice (its
    conv and pooling), as its processor counts them (``_get_num_audio_tokens``)."""
    frames = min(math.ceil(n_samples / hop_length), max_frames)
    frames = (frames - 1) // 2 + 1
    return (frames - 2) // 2 + 1


def audio_text(ref: str) -> str:
    """The text part that stands for one audio part (see the module docstring)."""
    return f"{AUDIO_BOS}{AUDIO_TOKEN}{OPEN}{ref}{CLOSE}{AUDIO_EOS}"


def text_refs(text: str) -> list[str]:
    """The audio references in a rendered prompt, in order."""
    return MARKER.findall(text)


def strip_refs(text: str, token: str = AUDIO_TOKEN) -> str:
    """``text`` with each reference gone, its audio token left (what the model's template writes)."""
    return MARKER.sub(lambda _m: token, text)


def prompt_refs(turns: list[dict]) -> list[str]:
    """The audio references of chat turns (their text parts), in order."""
    out: list[str] = []
    for turn in turns:
        content = turn.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for p in parts:
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                out.extend(text_refs(p["text"]))
    return out
