"""Musical key: names and notations (standard, Camelot, Open Key), and key detection.

Spelling: the names DJ software prints on the Camelot wheel (Mixed In Key, rekordbox): flats
everywhere except F# and F#m, so minor keys read Abm, Ebm, Bbm, Dbm and major keys Db, Eb, Ab,
Bb, next to F#. `parse_key` accepts any spelling (C#m, G#m, D#, A minor, 8A, 1m, ♯/♭).

Detection: a chroma vector from a long-window spectrum (0.74 s Hann at 11,025 Hz, so
neighbouring semitones are resolved down to the bass), built from spectral peaks only (the
broadband noise of drums is whitened away), tuned to the track's own reference pitch, then
correlated with the 24 rotations of a key profile. The margin between the best and the second
best correlation is the confidence. Profiles are listed in PROFILES; DEFAULT_PROFILE was chosen
by measurement with bench/accuracy.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from cratefile.analysis.decode import Samples, frame_blocks

MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "Dbm", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "Abm", "Am", "Bbm", "Bm")
NOTATIONS = ("standard", "camelot", "openkey")

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Key profiles, index 0 = tonic, in semitones above it. bgate and edma: Faraldo et al.,
# "Key estimation in electronic dance music" (ECIR 2016), as shipped in Essentia's KeyEDM;
# temperley: Temperley 1999; krumhansl: Krumhansl-Kessler (the classic baseline).
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "bgate": (
        (1.00, 0.00, 0.42, 0.00, 0.53, 0.37, 0.00, 0.77, 0.00, 0.38, 0.21, 0.30),
        (1.00, 0.00, 0.36, 0.39, 0.00, 0.38, 0.00, 0.74, 0.27, 0.00, 0.42, 0.23),
    ),
    "edma": (
        (1.0000, 0.2875, 0.5020, 0.4048, 0.6050, 0.5614, 0.3205, 0.7966, 0.3159, 0.4506, 0.4202, 0.3889),
        (1.0000, 0.3096, 0.4415, 0.5827, 0.3262, 0.4948, 0.2889, 0.7804, 0.4328, 0.2903, 0.5331, 0.3217),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
}
DEFAULT_PROFILE = "bgate"


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, C = 0
    minor: bool

    @property
    def standard(self) -> str:
        return (MINOR_NAMES if self.minor else MAJOR_NAMES)[self.tonic]

    @property
    def camelot(self) -> str:
        # Camelot numbers walk the circle of fifths: C major is 8B, A minor 8A, G major 9B.
        major_tonic = (self.tonic + 3) % 12 if self.minor else self.tonic
        number = (7 * major_tonic) % 12 + 8
        number = (number - 1) % 12 + 1
        return f"{number}{'A' if self.minor else 'B'}"

    @property
    def openkey(self) -> str:
        # Open Key is Camelot turned so that C major is 1d and A minor 1m.
        number = (int(self.camelot[:-1]) - 8) % 12 + 1
        return f"{number}{'m' if self.minor else 'd'}"

    def notation(self, notation: str) -> str:
        if notation == "standard":
            return self.standard
        if notation == "camelot":
            return self.camelot
        if notation == "openkey":
            return self.openkey
        raise ValueError(f"unknown key notation {notation!r} (known: {', '.join(NOTATIONS)})")


_STANDARD_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(m|min|minor|maj|major|M)?\s*$"
)
_WHEEL_RE = re.compile(r"^\s*(1[0-2]|0?[1-9])\s*([ABab]|[dm])\s*$")


def parse_key(text: str) -> Key:
    """A key from any common spelling: 'Am', 'A minor', 'C#m', 'Db', 'Eb major', '8A', '1m'."""
    wheel = _WHEEL_RE.match(text)
    if wheel:
        number, letter = int(wheel.group(1)), wheel.group(2)
        if letter in "dm":  # Open Key
            number = (number - 1 + 7) % 12 + 1
            minor = letter == "m"
        else:
            minor = letter in "Aa"
        # Inverse of Key.camelot: major tonic = 7 * (number - 8) mod 12 (7 is its own inverse).
        major_tonic = (7 * (number - 8)) % 12
        return Key((major_tonic - 3) % 12 if minor else major_tonic, minor)
    std = _STANDARD_RE.match(text)
    if not std:
        raise ValueError(f"not a key: {text!r} (expected e.g. 'Am', 'F#m', 'Eb', '8A' or '1m')")
    letter, accidental, mode = std.groups()
    pc = _LETTER_PC[letter.upper()]
    if accidental in ("#", "♯"):
        pc += 1
    elif accidental in ("b", "♭"):
        pc -= 1
    return Key(pc % 12, mode in ("m", "min", "minor"))


def key_in_notation(key_name: str, notation: str) -> str:
    """'Am' -> 'Am' (standard), '8A' (camelot), '1m' (openkey). Accepts any spelling parse_key does."""
    return parse_key(key_name).notation(notation)


# --- detection -------------------------------------------------------------------------

KEY_SR = 11025
N_FFT = 8192  # 0.74 s at 11,025 Hz: 1.35 Hz bins resolve semitones from about 45 Hz up
HOP = 4096
F_MIN = 50.0
F_MAX = 2500.0  # above this, upper partials add more confusion than information


@dataclass(frozen=True)
class KeyEstimate:
    key: Key
    confidence: float  # best correlation minus the second best
    scores: tuple[float, ...]  # 24 correlations: majors C..B, then minors C..B
    tuning_cents: float


def _peak_spectrum(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    """Mean magnitude of tonal peaks per bin between F_MIN and F_MAX, and the bin frequencies."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / samples.sr)
    lo, hi = np.searchsorted(freqs, [F_MIN, F_MAX])
    window = np.hanning(N_FFT).astype(np.float32)
    acc = np.zeros(hi - lo, dtype=np.float64)
    for frames in frame_blocks(samples, N_FFT, HOP, pad=0, per_block=64):
        block = np.abs(np.fft.rfft(frames * window, axis=1))[:, lo - 1 : hi + 1]
        mid = block[:, 1:-1]
        # A peak is a local maximum clearly above its neighbourhood (about a third of an
        # octave of bins); drums and noise are flat there and fall out.
        is_peak = (mid >= block[:, :-2]) & (mid >= block[:, 2:])
        smooth = _moving_mean(mid, 31)
        keep = is_peak & (mid > 2.0 * smooth)
        peaks = np.where(keep, mid - smooth, 0.0)
        # Each frame counts alike whatever its loudness (a breakdown is as tonal as a drop).
        norm = np.sqrt((peaks**2).sum(axis=1, keepdims=True)) + 1e-9
        acc += (peaks / norm).sum(axis=0)
    return acc, freqs[lo:hi]


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    pad = width // 2
    padded = np.pad(x, ((0, 0), (pad, pad)), mode="edge")
    csum = np.cumsum(padded, axis=1)
    csum = np.concatenate([np.zeros((x.shape[0], 1)), csum], axis=1)
    mean: np.ndarray = (csum[:, width:] - csum[:, :-width]) / width
    return mean


def _tuning_cents(spectrum: np.ndarray, freqs: np.ndarray) -> float:
    """Deviation of the track's reference pitch from A = 440 Hz, in cents (-50..50)."""
    midi = 12.0 * np.log2(freqs / 440.0) + 69.0
    phase = 2.0 * np.pi * (midi - np.round(midi))
    weight = spectrum**2
    if weight.sum() <= 0:
        return 0.0
    angle = np.angle((weight * np.exp(1j * phase)).sum())
    return float(angle / (2.0 * np.pi) * 100.0)


def _chroma(spectrum: np.ndarray, freqs: np.ndarray, cents: float) -> np.ndarray:
    midi = 12.0 * np.log2(freqs / 440.0) + 69.0 - cents / 100.0
    nearest = np.round(midi)
    dist = np.abs(midi - nearest)
    weight = np.cos(np.pi * dist) ** 2  # 1 on the semitone, 0 half-way to the next
    chroma = np.zeros(12)
    np.add.at(chroma, nearest.astype(int) % 12, spectrum * weight)
    return chroma


def _correlations(chroma: np.ndarray, profile: str) -> np.ndarray:
    major, minor = (np.asarray(p, dtype=float) for p in PROFILES[profile])
    c = chroma - chroma.mean()
    c /= np.linalg.norm(c) + 1e-12
    scores = np.empty(24)
    for mode, prof in enumerate((major, minor)):
        p = prof - prof.mean()
        p /= np.linalg.norm(p)
        for tonic in range(12):
            # chroma[tonic + i] against profile[i]
            scores[mode * 12 + tonic] = float(np.dot(np.roll(c, -tonic), p))
    return scores


def key_chroma(samples: Samples) -> tuple[np.ndarray, float]:
    """The 12-bin chroma (C first) of a mono signal and its tuning offset in cents."""
    spectrum, freqs = _peak_spectrum(samples)
    cents = _tuning_cents(spectrum, freqs)
    return _chroma(spectrum, freqs, cents), cents


def key_from_chroma(chroma: np.ndarray, profile: str = DEFAULT_PROFILE, cents: float = 0.0) -> KeyEstimate:
    scores = _correlations(chroma, profile)
    order = np.argsort(scores)[::-1]
    best = int(order[0])
    confidence = float(scores[order[0]] - scores[order[1]])
    return KeyEstimate(Key(best % 12, best >= 12), confidence, tuple(float(s) for s in scores), cents)


def estimate_key(samples: Samples, profile: str = DEFAULT_PROFILE) -> KeyEstimate:
    """Key of a mono signal (sampled at KEY_SR, which the bins were sized for)."""
    chroma, cents = key_chroma(samples)
    return key_from_chroma(chroma, profile, cents)
