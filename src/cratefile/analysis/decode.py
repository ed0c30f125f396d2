"""Decoding for analysis: one ffmpeg run to mono 16-bit PCM at 11,025 Hz, read back in blocks,
with integrated loudness on the side.

ffmpeg decodes any container yt-dlp hands us, downmixes and resamples in C, and writes raw PCM
to a temporary file that the analysis reads block by block: memory stays flat whatever the
length (a two-hour mix is 160 MB of PCM on disk, a few MB in memory), where librosa.load
holds the whole track as float32 and more. The same run measures EBU R128 integrated loudness
(LUFS, on the original channels, before the downmix) with ffmpeg's ebur128 filter, read from
the summary it logs at the end. The file is decoded inside the filter graph where it decodes
cleanly, which costs a half to a third of the CPU for MP3 and AAC (cratefile.graphinput).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from cratefile import graphinput
from cratefile.errors import Category, ToolError, TrackFailure
from cratefile.proc import ffmpeg_exe

ANALYSIS_SR = 11025
# Seconds. A two-hour mix decodes in well under a minute; this fires before the pool's own
# timeout, so a stuck ffmpeg is killed by its parent rather than orphaned.
DECODE_TIMEOUT = 600.0
BLOCK = 1 << 20  # samples per read when scanning a whole signal (95 s at 11,025 Hz)

_LUFS_RE = re.compile(r"Integrated loudness:\s*I:\s*(-?\d+(?:\.\d+)?|-?inf|nan)\s*LUFS", re.S)


class Samples(Protocol):
    """A mono signal read in pieces: what the tempo and key estimators consume."""

    sr: int

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 samples [start, stop); zeros where that reaches outside the signal."""
        ...


class ArraySamples:
    """Samples held in memory (tests, warm-up, benchmarks)."""

    def __init__(self, samples: np.ndarray, sr: int) -> None:
        self.samples = np.asarray(samples, dtype=np.float32)
        if not np.all(np.isfinite(self.samples)):
            self.samples = np.nan_to_num(self.samples, nan=0.0, posinf=0.0, neginf=0.0)
        self.sr = sr

    def __len__(self) -> int:
        return len(self.samples)

    def read(self, start: int, stop: int) -> np.ndarray:
        lo, hi = max(start, 0), min(stop, len(self.samples))
        if start >= 0 and stop <= len(self.samples):
            return self.samples[start:stop]
        out = np.zeros(stop - start, dtype=np.float32)
        if hi > lo:
            out[lo - start : hi - start] = self.samples[lo:hi]
        return out


class RawFileSamples:
    """Samples in a raw little-endian 16-bit mono PCM file, read on demand."""

    def __init__(self, fh: BinaryIO, sr: int) -> None:
        self._fh = fh
        self.sr = sr
        fh.seek(0, 2)
        self._length = fh.tell() // 2

    def __len__(self) -> int:
        return self._length

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros(stop - start, dtype=np.float32)
        lo, hi = max(start, 0), min(stop, self._length)
        if hi > lo:
            self._fh.seek(2 * lo)
            pcm = np.frombuffer(self._fh.read(2 * (hi - lo)), dtype="<i2")
            out[lo - start : lo - start + len(pcm)] = pcm * np.float32(1.0 / 32768.0)
        return out


def frame_blocks(samples: Samples, n_fft: int, hop: int, pad: int, per_block: int) -> Iterator[np.ndarray]:
    """Successive blocks of analysis frames, (frames, n_fft) each, as if the signal had `pad`
    zeros on both ends: frame f starts at sample f * hop - pad."""
    n_frames = max(1, (len(samples) + 2 * pad - n_fft) // hop + 1)
    for first in range(0, n_frames, per_block):
        last = min(n_frames, first + per_block)
        start = first * hop - pad
        segment = samples.read(start, (last - 1) * hop - pad + n_fft)
        yield np.lib.stride_tricks.sliding_window_view(segment, n_fft)[::hop]


def scan(samples: Samples) -> tuple[float, float]:
    """Peak and mean square of the whole signal, one block at a time."""
    peak, energy = 0.0, 0.0
    for start in range(0, len(samples), BLOCK):
        block = samples.read(start, min(start + BLOCK, len(samples)))
        peak = max(peak, float(np.max(np.abs(block))))
        energy += float(np.square(block, dtype=np.float64).sum())
    return peak, energy / max(len(samples), 1)


@dataclass(frozen=True)
class Decoded:
    samples: Samples
    loudness_lufs: float | None  # None when ffmpeg printed no summary

    @property
    def sr(self) -> int:
        return self.samples.sr

    @property
    def duration(self) -> float:
        return len(self.samples) / self.samples.sr


def decode_argv(path: Path, sr: int, out: Path) -> list[str]:
    return [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-af",
        # ebur128 hands on doubles; resampling those costs more than the decode of a WAV, so
        # they go back to float first (the s16 output is the same to within one step).
        "ebur128=framelog=quiet,aformat=sample_fmts=flt",
        "-ac",
        "1",
        "-ar",
        str(sr),
        "-f",
        "s16le",
        "-y",
        str(out),
    ]


def graph_decode_argv(name: str, sr: int, out: str) -> list[str]:
    """decode_argv's work with the file decoded inside the filter graph (cratefile.graphinput).

    The final aformat is what '-ac 1 -ar' asks of the command line's own graph, so the samples
    are byte for byte the same."""
    return [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        *graphinput.LOGLEVEL,
        *graphinput.input_argv(
            name,
            f"ebur128=framelog=quiet,aformat=sample_fmts=flt,"
            f"aformat=sample_fmts=s16:sample_rates={sr}:channel_layouts=mono",
        ),
        "-f",
        "s16le",
        "-y",
        out,
    ]


def parse_loudness(stderr: str) -> float | None:
    match = _LUFS_RE.search(stderr)
    if not match:
        return None
    value = float(match.group(1))
    return value if np.isfinite(value) else None


@contextlib.contextmanager
def decoded(path: Path, sr: int = ANALYSIS_SR) -> Iterator[Decoded]:
    """Decode the first audio stream of `path` for the duration of the `with` block.

    Raises TrackFailure(ANALYSIS_FAILED) if ffmpeg cannot, or if there is no audio in it.
    """
    path = Path(path)
    if not path.is_file():
        raise TrackFailure(Category.ANALYSIS_FAILED, f"no such file: {path}")
    with tempfile.TemporaryDirectory(prefix="cratefile-decode-") as tmp:
        raw = Path(tmp) / "audio.s16"
        try:
            # a damaged file goes through the command line, which decodes what it can
            stderr = graphinput.run_preferring_graph(
                path, Path(tmp), lambda name: graph_decode_argv(name, sr, raw.name),
                decode_argv(path, sr, raw), DECODE_TIMEOUT)
        except ToolError as exc:
            if exc.returncode == -1:  # ffmpeg could not be started: the machine's trouble, not the file's
                from cratefile.environment import environment_problem

                raise TrackFailure(Category.ENVIRONMENT, environment_problem(exc) or str(exc)) from exc
            raise TrackFailure(Category.ANALYSIS_FAILED, f"cannot decode {path.name}: {exc}") from exc
        loudness = parse_loudness(stderr.decode("utf-8", "replace"))
        with open(raw, "rb") as fh:
            samples = RawFileSamples(fh, sr)
            if len(samples) == 0:
                raise TrackFailure(Category.ANALYSIS_FAILED, f"no audio in {path.name}")
            yield Decoded(samples, loudness)


def decode_array(path: Path, sr: int = ANALYSIS_SR) -> tuple[np.ndarray, float | None]:
    """The whole decoded signal in memory, and its loudness (for benchmarks and tests)."""
    with decoded(path, sr) as d:
        return d.samples.read(0, len(d.samples)), d.loudness_lufs
