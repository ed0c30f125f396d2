"""Synthetic dance music with an exact tempo and key: the demo crate and the test fixtures.

`render()` writes a 16-bit stereo WAV: drums in one of a few styles, a bass line on the chord
roots, a pad playing a 4-bar chord progression of the key, and a plucked arpeggio. Beats fall on
exact sample positions (rounded), so the tempo is known to far better than 0.01 BPM.
Everything random comes from `seed`: the same arguments give the same bytes.

Styles are `<drums>` or `<drums>_intro` (no drums for the first quarter) or `<drums>_breakdown`
(no drums and no bass in the middle third), with drums one of:
- four_on_floor: kick on every beat, clap on 2 and 4, 16th hats, off-beat open hats;
- breakbeat: syncopated kicks, snare on 2 and 4, ghost notes;
- halftime: hip-hop at half time, the snare on beat 3 only;
- dnb: two-step drum & bass (kick on 1 and the and of 3, snare on 2 and 4);
- polyrhythm: kicks on 1 and 3 only, with a loud dotted-8th percussion line (3 against 4)
  and 8th-note triplet shakers: deliberately ambiguous for a tempo detector.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from cratefile.analysis.key import parse_key
from cratefile.atomic import atomic_target

DRUMS = ("four_on_floor", "breakbeat", "halftime", "dnb", "polyrhythm")
STYLES = tuple(f"{d}{v}" for d in DRUMS for v in ("", "_intro", "_breakdown"))

# Drum hits per 16-step bar: (instrument, steps, velocity).
_PATTERNS: dict[str, list[tuple[str, tuple[int, ...], float]]] = {
    "four_on_floor": [
        ("kick", (0, 4, 8, 12), 1.0),
        ("clap", (4, 12), 0.55),
        ("hat", tuple(range(16)), 0.18),
        ("open_hat", (2, 6, 10, 14), 0.3),
    ],
    "breakbeat": [
        ("kick", (0, 6, 10), 1.0),
        ("snare", (4, 12), 0.75),
        ("snare", (7, 14), 0.2),
        ("hat", (0, 2, 4, 6, 8, 10, 12, 14), 0.25),
    ],
    "halftime": [
        ("kick", (0, 7, 10), 1.0),
        ("snare", (8,), 0.8),
        ("hat", (0, 2, 4, 6, 8, 10, 12, 14), 0.22),
        ("hat", (3, 11), 0.1),
    ],
    "dnb": [
        ("kick", (0, 10), 1.0),
        ("snare", (4, 12), 0.8),
        ("hat", (0, 2, 4, 6, 8, 10, 12, 14), 0.25),
        ("hat", (1, 3, 5, 7, 9, 11, 13, 15), 0.1),
    ],
    "polyrhythm": [
        ("kick", (0, 8), 1.0),
        ("clap", (4, 12), 0.4),
    ],
}

# Chords as (root in semitones above the tonic, intervals above the root).
_MAJ, _MIN = (0, 4, 7), (0, 3, 7)
_PROGRESSIONS = {
    False: [  # major
        [(0, _MAJ), (7, _MAJ), (9, _MIN), (5, _MAJ)],
        [(0, _MAJ), (5, _MAJ), (7, _MAJ), (5, _MAJ)],
        [(0, _MAJ), (9, _MIN), (5, _MAJ), (7, _MAJ)],
        [(0, _MAJ), (5, _MAJ), (0, _MAJ), (7, _MAJ)],
        [(0, _MAJ), (2, _MIN), (5, _MAJ), (7, _MAJ)],
    ],
    True: [  # minor; a major V borrows the leading tone of harmonic minor
        [(0, _MIN), (8, _MAJ), (3, _MAJ), (10, _MAJ)],
        [(0, _MIN), (5, _MIN), (8, _MAJ), (7, _MAJ)],
        [(0, _MIN), (8, _MAJ), (5, _MIN), (7, _MAJ)],
        [(0, _MIN), (10, _MAJ), (8, _MAJ), (7, _MAJ)],
        [(0, _MIN), (5, _MIN), (0, _MIN), (7, _MIN)],
    ],
}
_SCALES = {False: (0, 2, 4, 5, 7, 9, 11), True: (0, 2, 3, 5, 7, 8, 10)}


def _hz(midi: float, cents: float = 0.0) -> float:
    hz: float = 440.0 * 2.0 ** ((midi - 69.0 + cents / 100.0) / 12.0)  # float ** float is typed Any
    return hz


class _Voices:
    """One-shot sounds, rendered once per (name, pitch, length) and reused."""

    def __init__(self, sr: int, rng: np.random.Generator, tuning_cents: float = 0.0) -> None:
        self.sr = sr
        self.rng = rng
        self.tuning_cents = tuning_cents
        self.cache: dict[tuple[str, int, int], np.ndarray] = {}

    def _t(self, seconds: float) -> np.ndarray:
        return np.arange(int(seconds * self.sr)) / self.sr

    def _noise(self, seconds: float) -> np.ndarray:
        return self.rng.standard_normal(int(seconds * self.sr))

    def drum(self, name: str) -> np.ndarray:
        key = (name, 0, 0)
        if key not in self.cache:
            self.cache[key] = self._make_drum(name)
        return self.cache[key]

    def _make_drum(self, name: str) -> np.ndarray:
        sr = self.sr
        if name == "kick":
            t = self._t(0.35)
            freq = 48.0 + 110.0 * np.exp(-t / 0.03)
            body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.14)
            click = np.zeros_like(t)
            n = int(0.004 * sr)
            click[:n] = self._noise(n / sr) * np.linspace(0.5, 0.0, n)
            kick: np.ndarray = body + click
            return kick
        if name == "snare":
            t = self._t(0.25)
            tone = 0.5 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05)
            noise = np.diff(self._noise(0.25), prepend=0.0) * 0.5 * np.exp(-t / 0.09)
            return tone + noise
        if name == "clap":
            t = self._t(0.3)
            env = np.exp(-t / 0.08)
            for burst in (0.0, 0.011, 0.022):
                env += 0.8 * np.exp(-np.abs(t - burst) / 0.003)
            noise = np.diff(self._noise(0.3), prepend=0.0)
            noise = np.convolve(noise, np.ones(3) / 3, mode="same")  # tame the top end
            return 0.5 * noise * env
        if name in ("hat", "open_hat", "shaker"):
            length, decay = {"hat": (0.06, 0.012), "open_hat": (0.3, 0.08), "shaker": (0.08, 0.02)}[name]
            t = self._t(length)
            noise = np.diff(self._noise(length), n=2, prepend=[0.0, 0.0])
            return 0.25 * noise * np.exp(-t / decay)
        if name == "perc":
            t = self._t(0.12)
            return (np.sin(2 * np.pi * 820.0 * t) + 0.5 * np.sin(2 * np.pi * 1230.0 * t)) * np.exp(-t / 0.035)
        raise ValueError(f"unknown drum {name!r}")

    def note(self, kind: str, midi: int, length: int) -> np.ndarray:
        key = (kind, midi, length)
        if key not in self.cache:
            self.cache[key] = self._make_note(kind, midi, length)
        return self.cache[key]

    def _make_note(self, kind: str, midi: int, length: int) -> np.ndarray:
        t = np.arange(length) / self.sr
        f0 = _hz(midi, self.tuning_cents)
        partials: tuple[float, ...]
        if kind == "bass":
            partials = (1.0, 0.5, 0.3, 0.15)
            env = np.minimum(1.0, t / 0.005) * np.exp(-t / 0.4)
        elif kind == "pad":
            partials = tuple(1.0 / k for k in range(1, 9))
            env = np.minimum(1.0, t / 0.06)
        else:  # pluck
            partials = (1.0, 0.45, 0.25, 0.12, 0.06)
            env = np.minimum(1.0, t / 0.003) * np.exp(-t / 0.12)
        out = np.zeros(length)
        nyquist = self.sr / 2.0
        for k, amp in enumerate(partials, start=1):
            if k * f0 < nyquist * 0.9:
                out += amp * np.sin(2 * np.pi * k * f0 * t)
        release = min(length, int(0.03 * self.sr))
        env = env.copy()
        env[length - release :] *= np.linspace(1.0, 0.0, release)
        note: np.ndarray = out * env
        return note


def _near(midi_pc: int, low: int) -> int:
    """The MIDI note of pitch class midi_pc at or just above `low`."""
    return low + (midi_pc - low) % 12


def render_array(
    *,
    bpm: float,
    key: str,
    seconds: float,
    style: str = "four_on_floor",
    sr: int = 44100,
    seed: int = 0,
    tuning_cents: float = 0.0,
) -> np.ndarray:
    """The stereo mix as float32 (frames, 2), peak at -1 dBFS. `tuning_cents` detunes every
    note (not the drums) from A = 440 Hz, like a track played off-pitch."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
    if bpm <= 0 or seconds <= 0:
        raise ValueError("bpm and seconds must be positive")
    drums_name, variant = style, ""
    for suffix in ("_intro", "_breakdown"):
        if style.endswith(suffix):
            drums_name, variant = style[: -len(suffix)], suffix[1:]
    k = parse_key(key)
    rng = np.random.default_rng(seed)
    voices = _Voices(sr, rng, tuning_cents)
    n = int(round(seconds * sr))
    step = 60.0 / bpm / 4.0  # one 16th note, seconds
    n_steps = int(math.ceil(seconds / step))

    def at(step_index: float) -> int:
        return int(round(step_index * step * sr))

    def drums_on(s: int) -> bool:
        frac = s / n_steps
        if variant == "intro":
            return frac >= 0.25
        if variant == "breakdown":
            return not (1 / 3 <= frac < 2 / 3)
        return True

    # One float32 stereo bus, each part mixed in at its level: a 5-minute track stays ~100 MB.
    mix = np.zeros((n, 2), dtype=np.float32)
    drum_level = 0.8

    # Drums.
    pattern = _PATTERNS[drums_name]
    pans = {"kick": 0.5, "snare": 0.5, "clap": 0.5, "hat": 0.35, "open_hat": 0.65, "perc": 0.3, "shaker": 0.7}
    for s in range(n_steps):
        if not drums_on(s):
            continue
        for name, steps, vel in pattern:
            if s % 16 in steps:
                _mix_pan(mix, voices.drum(name), at(s), drum_level * vel * (0.9 + 0.2 * rng.random()), pans[name])
        if drums_name == "polyrhythm":
            if s % 3 == 0:  # dotted 8ths: a period of 3/4 beat running across the bar line
                _mix_pan(mix, voices.drum("perc"), at(s), drum_level * 0.5, pans["perc"])
    if drums_name == "polyrhythm":  # 8th-note triplets: 3 per beat, 4/3 of a 16th apart
        beats = seconds * bpm / 60.0
        for j in range(int(beats * 3)):
            pos = j * 4.0 / 3.0  # in 16th-note steps
            if drums_on(int(pos)):
                gain = drum_level * (0.35 if j % 3 else 0.5)
                _mix_pan(mix, voices.drum("shaker"), at(pos), gain, pans["shaker"])

    # Harmony: a 4-bar progression, one chord per bar.
    progression = _PROGRESSIONS[k.minor][int(rng.integers(len(_PROGRESSIONS[k.minor])))]
    scale = _SCALES[k.minor]
    bar_len = at(16)
    bass_steps = (2, 6, 10, 14) if drums_name == "four_on_floor" else (0, 3, 6, 10, 12)
    arp_shape = rng.permutation([0, 1, 2, 3])
    n_bars = int(math.ceil(n_steps / 16))
    for bar in range(n_bars):
        root, intervals = progression[bar % len(progression)]
        root_pc = (k.tonic + root) % 12
        chord_root = _near(root_pc, 53)
        chord = [chord_root + i for i in intervals]
        start = at(bar * 16)
        for voice_i, note in enumerate(chord):
            sound = voices.note("pad", note, bar_len)
            _mix_pan(mix, sound, start, 0.16, 0.35 + 0.15 * voice_i)
        in_breakdown = variant == "breakdown" and not drums_on(bar * 16)
        bass_note = _near(root_pc, 31)
        for s in bass_steps:
            if not in_breakdown:
                _mix_pan(mix, voices.note("bass", bass_note, at(2) - 1), start + at(s), 0.39, 0.5)
        # Arpeggio over chord tones, the phrase resolving to the tonic at the end of the loop.
        tones = chord + [chord[0] + 12]
        for s in range(0, 16, 2):
            if bar % len(progression) == len(progression) - 1 and s == 14:
                note = _near(k.tonic, 69)
            elif rng.random() < 0.15:
                note = _near((k.tonic + scale[int(rng.integers(7))]) % 12, 69)
            else:
                note = tones[arp_shape[(s // 2) % 4]] + 12
            _mix_pan(mix, voices.note("pluck", note, at(2)), start + at(s), 0.12, 0.4 + 0.2 * rng.random())

    peak = float(np.max(np.abs(mix))) or 1.0
    mix *= np.float32(10 ** (-1.0 / 20.0) / peak)
    return mix


def _mix_pan(track: np.ndarray, sound: np.ndarray, at: int, gain: float, pan: float) -> None:
    if at >= len(track):
        return
    end = min(len(track), at + len(sound))
    piece = sound[: end - at] * gain
    track[at:end, 0] += piece * math.cos(pan * math.pi / 2)
    track[at:end, 1] += piece * math.sin(pan * math.pi / 2)


def render(
    path: Path,
    *,
    bpm: float,
    key: str,
    seconds: float,
    style: str = "four_on_floor",
    sr: int = 44100,
    seed: int = 0,
    tuning_cents: float = 0.0,
) -> None:
    """Write a 16-bit stereo WAV of synthetic dance music at `bpm` in `key` (atomically)."""
    mix = render_array(bpm=bpm, key=key, seconds=seconds, style=style, sr=sr, seed=seed, tuning_cents=tuning_cents)
    pcm = np.clip(np.round(mix * 32767.0), -32768, 32767).astype("<i2")
    with atomic_target(Path(path)) as tmp:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(sr)
            out.writeframes(pcm.tobytes())

