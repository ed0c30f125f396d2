"""Key detection beyond the profile correlation: the chords, and the chord that starts each
phrase, decide between keys that share a scale (a minor key and the major a tone below it, a
key and its relative); the confidence says how often such an answer is right."""

from __future__ import annotations

import numpy as np
import pytest

from cratefile.analysis import analyze_signal, parse_key
from cratefile.analysis.keyfind import TRIADS, chord_histogram, key_from_chroma, phrase_histogram
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
        # an aeolian vamp that never cadences, i - VII - VI - VII: its VII sounds twice as long
        # as its i, but it is F minor, not Eb major
        ([(F, AB, C), (EB, G, BB), (DB, F, AB), (EB, G, BB)], "Fm", 0.0),
        # and I - V - vi - IV, the same notes, stays Ab major: its V is not vi's VII
        ([(AB, C, EB), (EB, G, BB), (F, AB, C), (DB, F, AB)], "Ab", 0.0),
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


def test_the_phrase_start_tips_a_near_tie() -> None:
    # Ab major fits this chroma a little better than its relative F minor (0.868 against
    # 0.844) and both triads sound as long: the chord that starts the phrases decides, either way
    chroma = np.array([0.8, 0.3, 0.0, 0.8, 0.0, 0.8, 0.0, 0.3, 0.8, 0.0, 0.3, 0.0])
    chords = np.zeros(24)
    chords[12 + F], chords[AB] = 1.0, 1.0
    assert key_from_chroma(chroma, chords=chords).key == parse_key("Ab")
    starts_on = np.zeros(24)
    starts_on[12 + F] = 1.0
    assert key_from_chroma(chroma, chords=chords, phrase=starts_on).key == parse_key("Fm")
    starts_on[12 + F], starts_on[AB] = 0.0, 1.0
    assert key_from_chroma(chroma, chords=chords, phrase=starts_on).key == parse_key("Ab")


def test_the_vii_of_a_minor_loop_counts_for_its_tonic_unless_the_relative_major_sounds() -> None:
    # the Eb-major profile fits this chroma better than F minor (0.839 against 0.819), and the
    # Eb triad sounds twice as long as Fm's (i - VII - VI - VII): F minor, by its VII
    chroma = np.array([0.55, 0.35, 0.15, 0.85, 0.04, 0.75, 0.01, 0.44, 0.48, 0.1, 0.44, 0.04])
    chords = np.zeros(24)
    chords[EB], chords[12 + F], chords[DB] = 1.0, 0.5, 0.5
    assert key_from_chroma(chroma, chords=chords).key == parse_key("Fm")
    # with Ab major's tonic as loud as the Eb (I - V - vi - IV), the Eb is Ab's V: not F minor
    chords[AB] = 1.0
    assert key_from_chroma(chroma, chords=chords).key == parse_key("Ab")


def test_phrase_histogram_reads_the_first_bar_of_each_phrase() -> None:
    # 2 frames a beat, 16-beat phrases: Fm in the first bar of each, Eb everywhere else
    times = np.arange(128) * 0.5
    frames = np.where(((times % 16.0) < 4.0)[:, None], TRIADS[12 + F], TRIADS[EB]) + 0.01
    hist = phrase_histogram(frames, times, beat=1.0, first_beat=0.0)
    assert hist[12 + F] == 1.0 and hist[EB] == 0.0
    # a grid a bar late reads the phrase's second bar
    late = phrase_histogram(frames, times, beat=1.0, first_beat=4.0)
    assert late[EB] == 1.0 and late[12 + F] == 0.0


def test_confidence_is_a_probability_and_lower_when_the_cues_disagree() -> None:
    chroma = np.array([0.55, 0.35, 0.15, 0.85, 0.04, 0.75, 0.01, 0.44, 0.48, 0.1, 0.44, 0.04])
    chords = np.zeros(24)
    chords[12 + F], chords[EB], chords[C] = 1.0, 0.5, 0.5
    agree = key_from_chroma(chroma, chords=chords, phrase=chords)
    phrase_elsewhere = np.zeros(24)
    phrase_elsewhere[DB] = 1.0
    disagree = key_from_chroma(chroma, chords=chords, phrase=phrase_elsewhere)
    assert agree.key == disagree.key == parse_key("Fm")
    assert 0.0 < disagree.confidence < agree.confidence < 1.0
    # a chroma no key profile fits (flat: noise) has no key to be sure of
    assert key_from_chroma(np.ones(12) + 0.01 * np.arange(12)).confidence < 0.1


def test_the_bass_names_a_seventh_chord() -> None:
    # F-Ab-C-Eb holds both F minor and Ab major: the note in the bass says which it is
    fm7 = np.zeros((20, 12))
    fm7[:, [F, AB, C, EB]] = 1.0
    bass_on = np.zeros((20, 12))
    bass_on[:, F] = 1.0
    assert chord_histogram(fm7, bass_on).argmax() == 12 + F
    bass_on[:, F], bass_on[:, AB] = 0.0, 1.0
    assert chord_histogram(fm7, bass_on).argmax() == AB
