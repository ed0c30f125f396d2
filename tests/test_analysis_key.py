"""Key detection beyond the profile correlation: the chords decide between keys that share a
scale (a minor key and the major a tone below it, a key and its relative)."""

from __future__ import annotations

import numpy as np
import pytest

from cratefile.analysis import analyze_signal, parse_key
from cratefile.analysis.keyfind import TRIADS, chord_histogram, key_from_chroma
from cratefile.records import AnalysisOptions

SR = 11025


def _chord(pcs: tuple[int, ...], seconds: float, cents: float, rng: np.random.Generator) -> np.ndarray:
    """A chord of decaying harmonic tones, root in octave 3, each note a few cents off."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros(len(t))
    for i, pc in enumerate(pcs):
        midi = 48 + pc if i == 0 else 60 + pc
        f0 = 440.0 * 2 ** ((midi - 69 + (cents + rng.normal(0, 3)) / 100.0) / 12.0)
        for h in range(1, 6):
            if h * f0 < SR / 2.2:
                out += np.sin(2 * np.pi * h * f0 * t) / h * np.exp(-t / 1.5)
    return out


def _progression(chords: list[tuple[int, ...]], bars: int = 16, bpm: float = 120.0, cents: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    bar = 4 * 60.0 / bpm
    mix = np.concatenate([_chord(chords[i % len(chords)], bar, cents, rng) for i in range(bars)])
    # drums: a kick every beat and noise on the off-beats, to be ignored
    step = int(60.0 / bpm * SR)
    t = np.arange(int(0.2 * SR)) / SR
    kick = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-t / 0.03)) / SR) * np.exp(-t / 0.1)
    for at in range(0, len(mix) - len(t), step):
        mix[at : at + len(t)] += 2.0 * kick
        off = at + step // 2
        if off + len(t) < len(mix):
            mix[off : off + len(t)] += 0.3 * rng.standard_normal(len(t)) * np.exp(-t / 0.02)
    return (0.5 * mix / np.max(np.abs(mix))).astype(np.float32)


F, G, AB, BB, C, DB, EB, E = 5, 7, 8, 10, 0, 1, 3, 4


@pytest.mark.parametrize(
    ("chords", "key", "cents"),
    [
        # F minor: i - VII - VI - V (the V borrowing E natural): not Eb major, not Ab major
        ([(F, AB, C), (EB, G, BB), (DB, F, AB), (C, E, G)], "Fm", 0.0),
        ([(F, AB, C), (F, AB, C), (DB, F, AB), (C, E, G)], "Fm", 23.0),  # played 23 cents sharp
        # Ab major: I - IV - V - I, same notes as F minor's natural scale
        ([(AB, C, EB), (DB, F, AB), (EB, G, BB), (AB, C, EB)], "Ab", 0.0),
    ],
)
def test_key_of_a_progression(chords: list[tuple[int, ...]], key: str, cents: float) -> None:
    result = analyze_signal(_progression(chords, cents=cents), SR, AnalysisOptions())
    assert parse_key(result["key"]) == parse_key(key), result
    assert result["key_confidence"] > 0.0


def test_chord_histogram_names_the_chords_it_hears() -> None:
    frames = np.concatenate([np.tile(TRIADS[12 + F], (30, 1)), np.tile(TRIADS[EB], (10, 1))])  # Fm then Eb
    hist = chord_histogram(frames + 0.01)
    assert hist[12 + F] == pytest.approx(1.0)
    assert 0.2 < hist[EB] < 0.4  # 10 frames of 40, relative to the 30 of Fm (smoothing blurs one or two)
    assert hist.argsort()[-2] == EB


def test_chords_decide_between_keys_that_share_a_scale() -> None:
    # a chroma the Eb-major profile fits a little better than F minor (0.839 against 0.819) ...
    chroma = np.array([0.55, 0.35, 0.15, 0.85, 0.04, 0.75, 0.01, 0.44, 0.48, 0.1, 0.44, 0.04])
    alone = key_from_chroma(chroma)
    assert alone.key == parse_key("Eb")
    # ... but where the F minor triad is what sounds most, with its major V, it is F minor
    chords = np.zeros(24)
    chords[12 + F], chords[EB], chords[C] = 1.0, 0.5, 0.5
    assert key_from_chroma(chroma, chords=chords).key == parse_key("Fm")
    # and an Eb-major song (Eb chords and Bb dominants) stays Eb
    chords = np.zeros(24)
    chords[EB], chords[BB], chords[12 + F] = 1.0, 0.6, 0.3
    assert key_from_chroma(chroma, chords=chords).key == parse_key("Eb")
