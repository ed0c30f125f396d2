"""Acoustic fingerprints: Chromaprint through ffmpeg's `chromaprint` muxer, and how alike two are.

A fingerprint is the muxer's raw output (`-f chromaprint -fp_format raw`, the same numbers as
`fpcalc -raw`): one 32-bit item per ~0.124 s of audio, each bit the sign of one filter over
the chroma image, so a re-encode flips a few bits and a different recording about half.
`similarity` is 1 - the bit error rate at the best alignment within MAX_SHIFT seconds:
re-encodes, other loudness and a few seconds of added silence score >= 0.97, unrelated
tracks <= 0.66, and different tracks that share a whole loop 0.75-0.84 (measured on
generated audio, see tests/test_quality_dupes.py). `worst_window` is the same measure over
~8 s windows of the aligned overlap: a track that shares only its intro with another matches
in a few windows and not in the rest.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

import numpy as np

from cratefile.errors import ToolError
from cratefile.proc import run

ITEM_SECONDS = 4096 / 3 / 11025  # Chromaprint's hop: 1365.33 samples at 11,025 Hz (~0.124 s)
MAX_SHIFT = 12.0  # seconds of misalignment searched: leading silence, a trimmed intro
WINDOW_ITEMS = 64  # ~8 s: the window of `worst_window`
MIN_OVERLAP = 48  # items (~6 s): less than this aligned is no evidence either way

_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint32 (numpy >= 2 has this built in)."""
    count = getattr(np, "bitwise_count", None)
    if count is not None:
        out: np.ndarray = count(words)
        return out
    counted: np.ndarray = _POP8[words.view(np.uint8)].reshape(-1, 4).sum(axis=1)
    return counted


@functools.cache
def chromaprint_available(ffmpeg: str) -> bool:
    """Does this ffmpeg binary have the chromaprint muxer (`--enable-chromaprint`)?"""
    try:
        listing = run([ffmpeg, "-hide_banner", "-muxers"], timeout=30).stdout.decode("utf-8", "replace")
    except ToolError:
        return False
    return any(line.split()[1:2] == ["chromaprint"] for line in listing.splitlines() if line.strip())


def missing_message(ffmpeg: str) -> str:
    return (f"fingerprints: {ffmpeg} has no chromaprint muxer, so acoustic duplicates are not detected "
            "(the imageio-ffmpeg wheel's ffmpeg has it; or set CRATEFILE_FFMPEG to an ffmpeg built "
            "with --enable-chromaprint)")


def chromaprint_output(path: str) -> list[str]:
    """ffmpeg output options that write the raw fingerprint of the mapped stream to `path`."""
    return ["-ac", "1", "-ar", "11025", "-f", "chromaprint", "-fp_format", "raw", "-y", path]


def parse_raw(data: bytes) -> np.ndarray:
    """The muxer's raw output: native-endian uint32 items (little-endian on every platform we run)."""
    usable = len(data) - len(data) % 4
    return np.frombuffer(data[:usable], dtype="<u4").copy()


def encode(items: np.ndarray) -> str:
    return base64.b64encode(np.asarray(items, dtype="<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    return parse_raw(base64.b64decode(text))


@dataclass(frozen=True)
class Match:
    similarity: float  # 1 - bit error rate at the best alignment
    offset: float  # seconds: b starts this much later than a (negative: earlier)
    worst_window: float  # the lowest similarity of any ~8 s window of the aligned overlap
    overlap: float  # seconds compared


def _aligned(a: np.ndarray, b: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """a[i + shift] against b[i]."""
    if shift >= 0:
        x, y = a[shift:], b
    else:
        x, y = a, b[-shift:]
    n = min(len(x), len(y))
    return x[:n], y[:n]


def compare(a: np.ndarray, b: np.ndarray, max_shift: float = MAX_SHIFT) -> Match | None:
    """The best alignment of two fingerprints; None when they overlap too little to say."""
    if len(a) < MIN_OVERLAP or len(b) < MIN_OVERLAP:
        return None
    limit = int(round(max_shift / ITEM_SECONDS))
    best: tuple[float, int, int] | None = None  # (similarity, shift, items)
    for shift in range(-limit, limit + 1):
        x, y = _aligned(a, b, shift)
        if len(x) < MIN_OVERLAP:
            continue
        sim = 1.0 - float(_popcount(x ^ y).sum()) / (32.0 * len(x))
        if best is None or sim > best[0]:
            best = (sim, shift, len(x))
    if best is None:
        return None
    sim, shift, items = best
    x, y = _aligned(a, b, shift)
    bits = _popcount(x ^ y).astype(np.float64)
    windows = len(bits) // WINDOW_ITEMS
    if windows:
        per = 1.0 - bits[: windows * WINDOW_ITEMS].reshape(windows, WINDOW_ITEMS).sum(axis=1) / (32.0 * WINDOW_ITEMS)
        worst = float(per.min())
    else:
        worst = sim
    # a[i + shift] is b[i]: b's audio starts `shift` items before a's
    return Match(similarity=round(sim, 4), offset=round(-shift * ITEM_SECONDS, 2),
                 worst_window=round(worst, 4), overlap=round(items * ITEM_SECONDS, 1))


__all__ = ["ITEM_SECONDS", "Match", "chromaprint_available", "chromaprint_output", "compare", "decode",
           "encode", "missing_message", "parse_raw"]
