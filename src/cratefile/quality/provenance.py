"""Provenance: what a source file is (container, codec, bitrate, sample rate, bit depth,
channels), what its spectrum actually holds, and the verdict that follows.

A lossy encoder throws away what lies above a cutoff it picks from its bitrate: LAME keeps
~16 kHz at 128k, ~18.5 kHz at 192k and ~19.5-20 kHz at 320k; ffmpeg's AAC ~16.5 kHz at
128k. That cutoff survives any later decode, so a WAV or FLAC made from a lossy file shows a
cliff in its spectrum at the cutoff of the lossy file it came from; a true lossless file has
no cliff below ~20.5 kHz (a resampled master may have an anti-alias filter near 21 kHz,
which no lossy encoder at a DJ-relevant bitrate reaches). `effective_bandwidth` finds the
cliff in the mean power spectrum of a few excerpts decoded at the native rate: the lowest
frequency above which the level stays at least CLIFF_DB below the 2 kHz just under it.

Verdicts: `lossless`; `lossy <codec> ~<kbps>k` (the declared bitrate); `upscaled` when a file
claims more than its spectrum holds: a lossless container with a lossy cliff (`upscaled
from ~128k`), or a lossy file whose cliff belongs to a far lower bitrate than it declares
(a 320k MP3 made from a 128k one). Measured cutoffs of generated audio through real ffmpeg
are in tests/test_quality_provenance.py.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np  # imported where a spectrum is computed: reading a record needs no numpy

LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack", "ape", "tta", "truehd", "mlp", "shorten", "tak"})
LOSSY_CODECS = frozenset({"mp3", "mp2", "aac", "opus", "vorbis", "wmav2", "wmav1", "ac3", "eac3", "dts",
                          "mp3float", "aac_latm", "atrac3", "cook", "ra_144"})

FULL_BAND_HZ = 20500.0  # a cliff at or above this is a resampler's filter, not a lossy encoder's
CLIFF_DB = 25.0  # how far the spectrum must fall, and stay fallen, to be a cutoff
N_FFT = 4096
BAND_HZ = 200.0
REFERENCE_HZ = 2000.0  # the stretch below a candidate cutoff its level is compared with
SEARCH_FROM_HZ = 4000.0
QUIET_DB = -110.0  # mean band level below which an excerpt says nothing about bandwidth

# Cutoff (Hz) -> the bitrate (kbps) a lossy encoder leaves it at; the first row whose limit
# is above the cutoff wins. LAME's and ffmpeg AAC's defaults, measured (see module doc).
CUTOFF_KBPS: tuple[tuple[float, int], ...] = (
    (11500.0, 64), (15500.0, 96), (17700.0, 128), (18500.0, 160), (19500.0, 192), (FULL_BAND_HZ, 320),
)
UPSCALE_RATIO = 1.6  # a lossy file declaring this many times what its cutoff says is upscaled


def is_lossless_codec(codec: str | None) -> bool:
    return bool(codec) and (str(codec).startswith("pcm_") or codec in LOSSLESS_CODECS)


def is_lossy_codec(codec: str | None) -> bool:
    return bool(codec) and codec in LOSSY_CODECS


@dataclass(frozen=True)
class StreamInfo:
    """What ffmpeg says about the first audio stream of its first input."""

    container: str | None = None  # the demuxer, named by the file's extension when it is one of its names
    codec: str | None = None  # decoder name: mp3, aac, flac, pcm_s16le, ...
    bitrate: int | None = None  # kbps: the stream's, else the container's
    sample_rate: int | None = None
    bit_depth: int | None = None  # lossless codecs only: lossy ones have no bit depth to speak of
    channels: int | None = None
    duration: float | None = None


_INPUT = re.compile(r"^Input #0, ([^\s]+), from ", re.M)
_DURATION = re.compile(r"^\s+Duration: (\d+):(\d+):(\d+(?:\.\d+)?)(?:.*?bitrate: (\d+) kb/s)?", re.M)
_STREAM = re.compile(r"^\s+Stream #0:\d+[^:]*: Audio: ([\w-]+)[^\n]*", re.M)
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "5.1(side)": 6, "7.1": 8}


def parse_stream_info(stderr: str, extension: str = "") -> StreamInfo:
    """The facts of input #0's first audio stream in ffmpeg's log (its `-i` banner)."""
    head = stderr.split("\nOutput #", 1)[0]
    head = head.split("Input #1,", 1)[0]
    found: dict[str, Any] = {}
    if m := _INPUT.search(head):
        names = m[1].rstrip(",").split(",")
        ext = extension.lower().lstrip(".")
        found["container"] = ext if ext in names else ("mp4" if "mp4" in names else names[0])
    container_kbps = None
    if m := _DURATION.search(head):
        found["duration"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        container_kbps = int(m[4]) if m[4] else None
    if m := _STREAM.search(head):
        line = m[0]
        codec = m[1]
        found["codec"] = codec
        parts = [p.strip() for p in line.split("Audio:", 1)[1].split(",")]
        for part in parts[1:]:
            if hz := re.fullmatch(r"(\d+) Hz", part):
                found["sample_rate"] = int(hz[1])
            elif kbps := re.fullmatch(r"(\d+) kb/s.*", part):
                found["bitrate"] = int(kbps[1])
            elif part in _LAYOUTS:
                found["channels"] = _LAYOUTS[part]
            elif ch := re.fullmatch(r"(\d+) channels.*", part):
                found["channels"] = int(ch[1])
        if is_lossless_codec(codec):
            found["bit_depth"] = _bit_depth(codec, line)
    found.setdefault("bitrate", container_kbps)
    return StreamInfo(**found)


def _bit_depth(codec: str, line: str) -> int | None:
    if m := re.search(r"\((\d+) bit\)", line):  # s32 (24 bit)
        return int(m[1])
    if m := re.fullmatch(r"pcm_[suf](\d+)(?:le|be)?(?:_planar)?", codec):
        return int(m[1])
    if m := re.search(r", ([su])(\d+)p?(?:,|$| )", line):  # the sample format: s16, s32, u8
        return int(m[2])
    return None


def mean_spectrum(excerpts: list[np.ndarray], sr: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(frequencies, mean power in dB) of the excerpts, frame by frame (Hann, N_FFT, half overlap)."""
    import numpy as np

    window = np.hanning(N_FFT).astype(np.float32)
    total: np.ndarray | None = None
    frames = 0
    for x in excerpts:
        if len(x) < N_FFT:
            continue
        view = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float32), N_FFT)[:: N_FFT // 2]
        power = np.square(np.abs(np.fft.rfft(view * window, axis=1))).sum(axis=0)
        total = power if total is None else total + power
        frames += len(view)
    if total is None or frames == 0:
        return None
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    return freqs, 10.0 * np.log10(total / frames + 1e-30)


def effective_bandwidth(excerpts: list[np.ndarray], sr: int) -> tuple[float | None, float | None]:
    """(bandwidth Hz, cutoff Hz or None): where the spectrum really ends, and whether that is a
    lossy encoder's cliff below FULL_BAND_HZ. (None, None): too quiet or short to tell."""
    import numpy as np

    spectrum = mean_spectrum(excerpts, sr)
    nyquist = sr / 2.0
    if spectrum is None:
        return None, None
    freqs, db = spectrum
    n_bands = int(nyquist // BAND_HZ)
    edges = np.arange(n_bands + 1) * BAND_HZ
    power = 10.0 ** (db / 10.0)
    band_db = np.array([10.0 * np.log10(power[(freqs >= lo) & (freqs < hi)].mean() + 1e-30)
                        for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    if float(np.mean(band_db[: max(1, int(SEARCH_FROM_HZ // BAND_HZ))])) < QUIET_DB:
        return None, None
    first = int(SEARCH_FROM_HZ // BAND_HZ)
    ref_bands = int(REFERENCE_HZ // BAND_HZ)
    top = n_bands - 1  # the band at Nyquist is the resampler's own business
    for i in range(first, top - 1):
        below = float(np.mean(band_db[i - ref_bands:i]))
        above = band_db[i + 1:top]  # one band of transition allowed
        if len(above) and float(above.max()) <= below - CLIFF_DB:
            # the cliff itself: the first band at or after i that has already fallen halfway
            fall = next((j for j in range(i, i + 2) if band_db[j] <= below - CLIFF_DB / 2), i + 1)
            cutoff = float(edges[fall])
            return cutoff, (cutoff if cutoff < FULL_BAND_HZ else None)
    return nyquist, None


def kbps_for_cutoff(cutoff: float) -> int:
    for limit, kbps in CUTOFF_KBPS:
        if cutoff < limit:
            return kbps
    return CUTOFF_KBPS[-1][1]


@dataclass(frozen=True)
class Provenance:
    """A source file's provenance, as stored in its quality record and the catalog."""

    container: str | None
    codec: str | None
    bitrate: int | None  # kbps, as declared
    sample_rate: int | None
    bit_depth: int | None
    channels: int | None
    bandwidth: float | None  # Hz: where the spectrum really ends (Nyquist when nothing is cut)
    cutoff: float | None  # Hz: a lossy encoder's cliff, None when there is none
    verdict: str  # lossless | lossy | upscaled | unknown
    label: str  # 'lossless', 'lossy mp3 ~128k', 'upscaled from ~128k (flac)', 'unknown'
    from_kbps: int | None = None  # what the cutoff says the audio once was, when it was cut

    @property
    def lossy_origin(self) -> bool:
        """Is the audio (whatever its container) from a lossy encode?"""
        return self.verdict in ("lossy", "upscaled")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Provenance | None:
        if not isinstance(data, dict) or "verdict" not in data:
            return None
        fields: dict[str, Any] = {f: data.get(f) for f in cls.__dataclass_fields__}
        fields["label"] = fields["label"] or fields["verdict"]
        return cls(**fields)


def judge(info: StreamInfo, bandwidth: float | None, cutoff: float | None) -> Provenance:
    """The verdict from what the file claims (`info`) and what its spectrum holds."""
    from_kbps = kbps_for_cutoff(cutoff) if cutoff is not None else None
    base = Provenance(container=info.container, codec=info.codec, bitrate=info.bitrate,
                      sample_rate=info.sample_rate, bit_depth=info.bit_depth, channels=info.channels,
                      bandwidth=None if bandwidth is None else float(round(bandwidth)),
                      cutoff=None if cutoff is None else float(round(cutoff)),
                      verdict="unknown", label="unknown", from_kbps=from_kbps)
    codec = info.codec or "?"
    if is_lossless_codec(info.codec):
        if bandwidth is None:
            return replace(base, label=f"unknown ({codec}: too quiet to measure)")
        if cutoff is not None:
            return replace(base, verdict="upscaled", label=f"upscaled from ~{from_kbps}k ({codec})")
        return replace(base, verdict="lossless", label="lossless")
    if info.codec:  # a lossy codec, or one we do not know to be lossless
        declared = f" ~{info.bitrate}k" if info.bitrate else ""
        if from_kbps is not None and info.bitrate and info.bitrate >= UPSCALE_RATIO * from_kbps:
            return replace(base, verdict="upscaled", label=f"upscaled from ~{from_kbps}k ({codec}{declared})")
        return replace(base, verdict="lossy", label=f"lossy {codec}{declared}")
    return base


__all__ = ["Provenance", "StreamInfo", "effective_bandwidth", "is_lossless_codec", "judge", "parse_stream_info"]
