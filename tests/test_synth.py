"""cratefile.synth: deterministic, well-formed, fast, and every style and key renders."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from cratefile.analysis.key import MAJOR_NAMES, MINOR_NAMES
from cratefile.synth import STYLES, render, render_array


def test_wav_format_and_length(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    render(path, bpm=128, key="Am", seconds=3.0, sr=22050)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 22050)
        assert w.getnframes() == 3 * 22050
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    # Peak normalised to -1 dBFS.
    assert np.abs(pcm).max() == pytest.approx(32767 * 10 ** (-1 / 20), abs=2)
    assert not list(tmp_path.glob("*.part*"))  # written atomically


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{n}.wav" for n in "abc")
    render(a, bpm=124, key="F#m", seconds=2.0, seed=7)
    render(b, bpm=124, key="F#m", seconds=2.0, seed=7)
    render(c, bpm=124, key="F#m", seconds=2.0, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_sound(style: str) -> None:
    mix = render_array(bpm=120, key="C", seconds=4.0, style=style, sr=11025)
    assert mix.shape == (44100, 2)
    assert np.all(np.isfinite(mix)) and np.abs(mix).max() > 0.5


def test_intro_starts_without_drums_and_breakdown_drops_them() -> None:
    def drum_energy(mix: np.ndarray, sr: int) -> np.ndarray:
        """Energy above 3.5 kHz (hats, claps) per second."""
        spec = np.abs(np.fft.rfft(mix[:, 0].reshape(-1, sr), axis=1))
        return spec[:, 3500:].sum(axis=1)

    sr = 11000
    plain = drum_energy(render_array(bpm=120, key="Am", seconds=12, style="four_on_floor", sr=sr), sr)
    intro = drum_energy(render_array(bpm=120, key="Am", seconds=12, style="four_on_floor_intro", sr=sr), sr)
    down = drum_energy(render_array(bpm=120, key="Am", seconds=12, style="four_on_floor_breakdown", sr=sr), sr)
    assert intro[:3].max() < 0.2 * plain[:3].min()
    assert intro[4:].min() > 0.5 * plain[4:].max()
    assert down[4:8].max() < 0.2 * plain[4:8].min()
    assert down[:4].min() > 0.5 * plain[:4].max()


@pytest.mark.parametrize("key", MAJOR_NAMES + MINOR_NAMES + ("C#m", "G#m", "D#"))
def test_every_key_is_accepted(key: str) -> None:
    assert render_array(bpm=100, key=key, seconds=0.5, sr=8000).shape == (4000, 2)


def test_beats_fall_on_exact_samples() -> None:
    # Kick only in the first bar of four_on_floor: the low band rises at k * 60/bpm seconds.
    sr, bpm = 22050, 125.0
    mix = render_array(bpm=bpm, key="C", seconds=4.0, style="four_on_floor", sr=sr)
    beat = 60.0 / bpm * sr
    for k in range(4):
        at = int(round(k * beat))
        before = np.abs(mix[max(0, at - 200) : at, 0]).max() if at else 0.0
        after = np.abs(mix[at : at + 200, 0]).max()
        assert after > before


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        render_array(bpm=120, key="C", seconds=1, style="polka")
    with pytest.raises(ValueError):
        render_array(bpm=120, key="H#", seconds=1)
    with pytest.raises(ValueError):
        render_array(bpm=0, key="C", seconds=1)


def test_ten_seconds_render_fast(tmp_path: Path) -> None:
    render(tmp_path / "warm.wav", bpm=128, key="Am", seconds=1.0)
    start = time.process_time()
    render(tmp_path / "ten.wav", bpm=128, key="Am", seconds=10.0)
    # Well under a second on an idle core; the margin is for a busy shared machine.
    assert time.process_time() - start < 2.0
