"""Key detection: a chroma vector from a long-window spectrum (0.74 s Hann at 11,025 Hz, so
neighbouring semitones are resolved down to the bass), built from spectral peaks only (the
broadband noise of drums is whitened away), tuned to the track's own reference pitch, then
correlated with the 24 rotations of a key profile (key.PROFILES).

The correlation knows the scale, not which of its chords is home: a minor loop and the major
key a tone below it (Fm and Eb: an aeolian i - VII - VI - VII vamp sounds its VII twice as
long as its i), or a key and its relative, share most notes. So the keys within CHORD_WINDOW
of the best correlation are weighed by the chords too: every frame's chroma (smoothed over
CHORD_SMOOTH frames, ~1.9 s) is named by its best-matching triad, its root helped by the
bass (BASS_WEIGHT: a seventh chord holds two triads, the bass says which is the chord), and a
key gains
CHORD_WEIGHT times how often its tonic triad sounds (relative to the most frequent triad),
DOMINANT_WEIGHT times how often the major triad on its fifth does (the cadence), a minor key
SUBTONIC_WEIGHT times how often the major triad a tone below its tonic does while neither
its relative major's tonic triad nor the VII's own dominant does (VII - i is the cadence of a
minor loop that has no dominant: an aeolian i - VII - VI - VII vamp sounds its VII twice as
long as its i, and the profile alone names the VII), and, with
the beat grid, PHRASE_WEIGHT times how often its tonic triad is the chord of the first bar of
a 4-bar phrase counted from the first beat: dance music is built in phrases from the start of
the track, and a loop that never cadences often starts on its tonic. A track whose phrases do
not start on the grid's first beat (a pickup bar, an intro cut off) misleads that cue, so it
only tips a near tie (see PHRASE_WEIGHT).

The confidence is a probability (0..1) that the key is right, from the margin between the
best and the second best score, calibrated on the bench set (see `key_confidence`); a chroma
that fits no key profile (noise, drums alone) gets next to none. DEFAULT_PROFILE, the
weights and the calibration were chosen by measurement with bench/accuracy.py on its seeds
7000 and 9000 (seed 11000 held out); SUBTONIC_WEIGHT and CHORD_WINDOW on seeds 7000, 9000,
11000 and 13000 together (see their comment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cratefile.analysis.decode import Samples, frame_blocks
from cratefile.analysis.key import DEFAULT_PROFILE, PROFILES, Key

KEY_SR = 11025
N_FFT = 8192  # 0.74 s at 11,025 Hz: 1.35 Hz bins resolve semitones from about 45 Hz up
HOP = 4096
F_MIN = 50.0
F_MAX = 2500.0  # above this, upper partials add more confusion than information
# The bass, for naming chords: down to 38 Hz, where a bass guitar's low E (41 Hz) sits (2.4 Hz a
# semitone there: under two bins, enough for the strongest note), up to 130 Hz (its octave).
BASS_MIN, BASS_MAX = 38.0, 130.0


@dataclass(frozen=True)
class KeyEstimate:
    key: Key
    confidence: float  # 0..1: the calibrated probability that the key is right
    scores: tuple[float, ...]  # 24 scores: majors C..B, then minors C..B
    tuning_cents: float
    margin: float = 0.0  # best score minus the second best


FINE = 120  # per-frame chroma bins (10 cents each), folded to 12 once the tuning is known
# Wide enough for the minor tonic of an aeolian vamp on pads (saw harmonics: its correlation
# 0.15-0.2 under the VII major's).
CHORD_WINDOW = 0.2
CHORD_WEIGHT = 0.2
DOMINANT_WEIGHT = 0.1
# The VII of a minor key is the V of its relative major, and a tonic itself where its own V
# sounds: it counts for the minor key only as far as the relative major's tonic triad and the
# major triad a fourth above the minor tonic are missing (I - V - vi - IV is not vi's, nor
# Eb - Bb - Fm F minor's). On
# bench/accuracy.py seeds 7000, 9000, 11000 and 13000 it took key exact from 92.7, 92.7, 90.6
# and 88.5 % to the figures in the README; the same cue for a major key and its bVII
# (mixolydian I - bVII) cost more than it gained at any weight.
SUBTONIC_WEIGHT = 0.25
# Small on purpose: the phrase cue assumes the track's phrases start at its first beat. On
# bench/accuracy.py's seeds 7000 and 9000 (whose loops start at 0 s), key exact at 0.3 was
# 99.0 and 97.9 %, but 55.2 % (7000) with the first bar cut off (--start-bar 1); at 0.05 it is
# 92.7 and 92.7 %, cut 82.3 and 81.2 %; without the cue 90.6 and 88.5 %, cut 86.5 and 83.3 %.
PHRASE_WEIGHT = 0.05
BASS_WEIGHT = 0.2
CHORD_SMOOTH = 5
PHRASE_BEATS = 16  # a phrase: 4 bars of 4 beats


def _triads() -> np.ndarray:
    """(24, 12): major triads C..B, then minor triads C..B."""
    out = np.zeros((24, 12))
    for root in range(12):
        out[root, [root, (root + 4) % 12, (root + 7) % 12]] = 1.0
        out[12 + root, [root, (root + 3) % 12, (root + 7) % 12]] = 1.0
    return out


TRIADS = _triads()


def _peak_spectrum(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    """Mean magnitude of tonal peaks per bin between F_MIN and F_MAX, and the bin frequencies."""
    spectrum, freqs, _, _ = _peak_frames(samples)
    return spectrum, freqs


def _fine_map(freqs: np.ndarray) -> np.ndarray:
    """(bins, FINE): each bin to its 10-cent chroma bin (untuned)."""
    fine_bin = (np.round((12.0 * np.log2(freqs / 440.0) + 69.0) * FINE / 12.0).astype(int)) % FINE
    to_fine = np.zeros((len(freqs), FINE), dtype=np.float32)
    to_fine[np.arange(len(freqs)), fine_bin] = 1.0
    return to_fine


def _peaks(block: np.ndarray) -> np.ndarray:
    """The tonal peaks of magnitude frames that carry one extra bin on either side, each
    frame normalised to unit energy."""
    mid = block[:, 1:-1]
    # A peak is a local maximum clearly above its neighbourhood (about a third of an octave
    # of bins); drums and noise are flat there and fall out.
    is_peak = (mid >= block[:, :-2]) & (mid >= block[:, 2:])
    smooth = _moving_mean(mid, 31)
    keep = is_peak & (mid > 2.0 * smooth)
    peaks = np.where(keep, mid - smooth, 0.0)
    # Each frame counts alike whatever its loudness (a breakdown is as tonal as a drop).
    norm = np.sqrt((peaks**2).sum(axis=1, keepdims=True)) + 1e-9
    unit: np.ndarray = peaks / norm
    return unit


def _peak_frames(samples: Samples) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """_peak_spectrum's two, every frame's tonal peaks on a fine untuned chroma axis
    (frames, FINE), each frame normalised like the spectrum, and the same of the bass alone
    (BASS_MIN to BASS_MAX)."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / samples.sr)
    lo, hi = np.searchsorted(freqs, [F_MIN, F_MAX])
    blo, bhi = np.searchsorted(freqs, [BASS_MIN, BASS_MAX])
    to_fine, bass_to_fine = _fine_map(freqs[lo:hi]), _fine_map(freqs[blo:bhi])
    window = np.hanning(N_FFT).astype(np.float32)
    acc = np.zeros(hi - lo, dtype=np.float64)
    fine_parts, bass_parts = [], []
    for frames in frame_blocks(samples, N_FFT, HOP, pad=0, per_block=64):
        spectrum = np.abs(np.fft.rfft(frames * window, axis=1))
        unit = _peaks(spectrum[:, lo - 1 : hi + 1])
        acc += unit.sum(axis=0)
        # einsum, not @: BLAS would wake its thread pool (see tempo.onset_envelopes)
        fine_parts.append(np.einsum("fb,bk->fk", unit.astype(np.float32), to_fine))
        bass = _peaks(spectrum[:, blo - 1 : bhi + 1]).astype(np.float32)
        bass_parts.append(np.einsum("fb,bk->fk", bass, bass_to_fine))
    empty = np.zeros((0, FINE), dtype=np.float32)
    fine = np.concatenate(fine_parts) if fine_parts else empty
    bass_fine = np.concatenate(bass_parts) if bass_parts else empty
    return acc, freqs[lo:hi], fine, bass_fine


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


def _fold_fine(fine: np.ndarray, cents: float) -> np.ndarray:
    """(frames, FINE) -> (frames, 12) with the weights of _chroma at the track's tuning."""
    position = np.arange(FINE) * 12.0 / FINE - cents / 100.0
    nearest = np.round(position)
    weight = np.cos(np.pi * np.abs(position - nearest)) ** 2
    fold = np.zeros((FINE, 12), dtype=np.float32)
    fold[np.arange(FINE), nearest.astype(int) % 12] = weight
    folded: np.ndarray = np.einsum("fk,kc->fc", fine, fold)
    return folded


def chord_histogram(frames: np.ndarray, bass: np.ndarray | None = None) -> np.ndarray:
    """How often each of the 24 triads is the best match of the smoothed frame chroma (and
    bass chroma, see _triad_counts), relative to the most frequent one (24 values in 0..1;
    zeros without frames)."""
    if len(frames) == 0:
        return np.zeros(24)
    return _triad_counts(_smooth(frames), None if bass is None else _smooth(bass))


def _smooth(frames: np.ndarray) -> np.ndarray:
    kernel = np.ones(CHORD_SMOOTH) / CHORD_SMOOTH
    return np.stack([np.convolve(frames[:, j], kernel, mode="same") for j in range(12)], axis=1)


_ROOTS = np.concatenate([np.arange(12), np.arange(12)])  # the root of each of the 24 triads


def _triad_counts(frames: np.ndarray, bass: np.ndarray | None = None) -> np.ndarray:
    """How often each triad is the best match of the (non-silent) frames, relative to the most
    frequent (24 values in 0..1; zeros without frames). With the frames' bass chroma, a triad
    gains BASS_WEIGHT times its root's share of the bass (relative to the strongest bass note):
    F-Ab-C-Eb over an F in the bass is F minor (seventh), not Ab major."""
    norm = np.linalg.norm(frames, axis=1)
    tonal = norm > 0
    if not tonal.any():
        return np.zeros(24)
    unit = frames[tonal] / norm[tonal, None]
    match = np.einsum("fc,tc->ft", unit, TRIADS)
    if bass is not None:
        low = bass[tonal]
        top = low.max(axis=1, keepdims=True)
        match += BASS_WEIGHT * np.where(top > 0, low / np.maximum(top, 1e-12), 0.0)[:, _ROOTS]
    counts = np.bincount(np.argmax(match, axis=1), minlength=24).astype(float)
    hist: np.ndarray = counts / counts.max()
    return hist


def phrase_histogram(
    frames: np.ndarray, times: np.ndarray, beat: float, first_beat: float, bass: np.ndarray | None = None
) -> np.ndarray:
    """_triad_counts of the frames (centred at `times`, s) inside the first bar of each
    phrase of PHRASE_BEATS beats of `beat` seconds from `first_beat` (half a beat kept off
    either edge of the bar, where the window straddles the chord change)."""
    if beat <= 0 or len(frames) == 0:
        return np.zeros(24)
    position = ((times - first_beat) / beat) % PHRASE_BEATS
    inside = (position > 0.5) & (position < 3.5)
    return _triad_counts(frames[inside], None if bass is None else bass[inside])


def frame_times(n_frames: int, sr: int) -> np.ndarray:
    """Seconds at the centre of each key frame."""
    times: np.ndarray = (np.arange(n_frames) * HOP + N_FFT / 2) / sr
    return times


def key_chroma(samples: Samples) -> tuple[np.ndarray, float]:
    """The 12-bin chroma (C first) of a mono signal and its tuning offset in cents."""
    spectrum, freqs = _peak_spectrum(samples)
    cents = _tuning_cents(spectrum, freqs)
    return _chroma(spectrum, freqs, cents), cents


def key_from_chroma(
    chroma: np.ndarray, profile: str = DEFAULT_PROFILE, cents: float = 0.0, chords: np.ndarray | None = None,
    phrase: np.ndarray | None = None,
) -> KeyEstimate:
    """The key of a chroma vector; with `chords` (chord_histogram) and `phrase`
    (phrase_histogram), the keys whose correlation is within CHORD_WINDOW of the best weighed
    by their tonic and dominant triads (and a minor key by its VII, see SUBTONIC_WEIGHT), and
    their tonic triad at the phrase starts, too."""
    scores = _correlations(chroma, profile)
    tonal = float(np.clip((scores.max() - TONAL_FLOOR) / TONAL_SPAN, 0.0, 1.0))
    if chords is not None and chords.any():
        near = np.flatnonzero(scores >= scores.max() - CHORD_WINDOW)
        for key in near:
            tonic = key % 12
            scores[key] += CHORD_WEIGHT * chords[key] + DOMINANT_WEIGHT * chords[(tonic + 7) % 12]
            if key >= 12:  # minor: its VII, unless that is the relative's V or a tonic with its own V
                rival = max(chords[(tonic + 3) % 12], chords[(tonic + 5) % 12])
                scores[key] += SUBTONIC_WEIGHT * chords[(tonic + 10) % 12] * max(0.0, 1.0 - rival)
            if phrase is not None:
                scores[key] += PHRASE_WEIGHT * phrase[key]
    order = np.argsort(scores)[::-1]
    best = int(order[0])
    margin = float(scores[order[0]] - scores[order[1]])
    confidence = tonal * key_confidence(margin)
    return KeyEstimate(Key(best % 12, best >= 12), confidence, tuple(float(s) for s in scores), cents, margin)


# Calibration: a logistic fit (C = 10) of "the key is right" on the margin, on bench/accuracy.py's
# seeds 7000 and 9000 with their first 0, 1, 2 and 3 bars cut off (768 readings, so that a
# phrase cue misled by a track that does not start on a phrase is in it). Whether the phrase's
# or the chords' favourite agreed with the answer added little (log loss 0.277 and 0.267
# against 0.288) and got weights of the wrong sign: left out.
CONF_BIAS, CONF_MARGIN = 0.5, 7.5
# A chroma that fits no key profile has no key to be sure of: noise and drums alone correlate
# 0.35-0.45 with their best key, the bench's music 0.58-0.97; the probability is scaled down
# from 1 at TONAL_FLOOR + TONAL_SPAN to 0 at TONAL_FLOOR.
TONAL_FLOOR, TONAL_SPAN = 0.45, 0.1


def key_confidence(margin: float) -> float:
    """The probability (0..1) that a key whose score leads the next by `margin` is right."""
    return 1.0 / (1.0 + math.exp(-(CONF_BIAS + CONF_MARGIN * margin)))


def estimate_key(
    samples: Samples, profile: str = DEFAULT_PROFILE, beat: float | None = None, first_beat: float | None = None
) -> KeyEstimate:
    """Key of a mono signal (sampled at KEY_SR, which the bins were sized for); with the beat
    grid (`beat` seconds from `first_beat`), the phrase starts weigh in too."""
    spectrum, freqs, fine, bass_fine = _peak_frames(samples)
    cents = _tuning_cents(spectrum, freqs)
    frames, bass = _fold_fine(fine, cents), _fold_fine(bass_fine, cents)
    chords = chord_histogram(frames, bass)
    phrase = None
    if beat is not None and first_beat is not None:
        phrase = phrase_histogram(frames, frame_times(len(frames), samples.sr), beat, first_beat, bass)
    return key_from_chroma(_chroma(spectrum, freqs, cents), profile, cents, chords, phrase)
