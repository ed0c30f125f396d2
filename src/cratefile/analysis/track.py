"""One track's analysis: decode, then tempo, key, duration and loudness as a JSON-able dict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cratefile.analysis import ALGO_VERSION
from cratefile.analysis.decode import ANALYSIS_SR, ArraySamples, Samples, decoded, scan
from cratefile.analysis.keyfind import estimate_key
from cratefile.analysis.tempo import estimate_tempo
from cratefile.errors import Category, TrackFailure
from cratefile.records import AnalysisOptions

MIN_SECONDS = 1.0
SILENCE = 1e-4  # peak below -80 dBFS: nothing to analyse (16-bit dither is about -90)


def analyze_samples(samples: Samples, options: AnalysisOptions, loudness_lufs: float | None = None) -> dict[str, Any]:
    """Analyse a mono signal (no decoding). Raises TrackFailure for silence or under 1 s.

    `loudness_lufs` comes from the decoder; without it the loudness is the RMS of the mono
    signal with LUFS's -0.691 dB offset (no K-weighting, no gating): a rough stand-in.
    """
    duration = len(samples) / samples.sr
    if duration < MIN_SECONDS:
        raise TrackFailure(Category.ANALYSIS_FAILED, f"too short to analyse ({duration:.2f} s)")
    peak, mean_square = scan(samples)
    if peak < SILENCE:
        raise TrackFailure(Category.ANALYSIS_FAILED, "the audio is silent")
    tempo = estimate_tempo(samples, options.bpm_min, options.bpm_max, options.bpm_range_mode)
    # The phrase cue of the key wants the grid: the tempo's beat and first beat.
    beat = 60.0 / tempo.bpm if tempo.bpm > 0 else None
    key = estimate_key(samples, beat=beat, first_beat=tempo.first_beat)
    if loudness_lufs is None:
        loudness_lufs = 10.0 * math.log10(max(mean_square, 1e-20)) - 0.691
    return {
        "bpm": round(float(tempo.bpm), 2),
        "bpm_confidence": round(float(tempo.confidence), 3),
        # the other octave weighed (half or double the bpm), and how sure the choice was (0.5..1)
        "bpm_alt": round(float(tempo.bpm_alt), 2),
        "octave_confidence": round(float(tempo.octave_confidence), 3),
        # seconds; None without a reliable pulse (and always with bpm 0)
        "first_beat": round(float(tempo.first_beat), 3) if tempo.first_beat is not None and tempo.bpm > 0 else None,
        "key": key.key.standard,
        "camelot": key.key.camelot,
        "openkey": key.key.openkey,
        "key_confidence": round(float(key.confidence), 4),
        "duration": round(duration, 3),
        "loudness_db": round(float(loudness_lufs), 2),
        "loudness_unit": "LUFS",
        "algo_version": ALGO_VERSION,
    }


def analyze_signal(
    y: np.ndarray, sr: int, options: AnalysisOptions, loudness_lufs: float | None = None
) -> dict[str, Any]:
    """analyze_samples for a signal held in memory."""
    return analyze_samples(ArraySamples(y, sr), options, loudness_lufs)


def analyze_file(path: Path, options: AnalysisOptions) -> dict[str, Any]:
    """Decode `path` through ffmpeg and analyse it in this process.

    Raises TrackFailure(ANALYSIS_FAILED) for an undecodable, empty, silent or too short file.
    """
    with decoded(Path(path), ANALYSIS_SR) as audio:
        try:
            return analyze_samples(audio.samples, options, audio.loudness_lufs)
        except (ValueError, FloatingPointError, MemoryError) as exc:
            raise TrackFailure(Category.ANALYSIS_FAILED, f"analysis of {Path(path).name} failed: {exc}") from exc
