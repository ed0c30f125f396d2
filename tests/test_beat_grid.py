"""The beat grid: the analyzer's first beat on generated music whose beat times are known
(through real ffmpeg), and the Rekordbox TEMPO element it becomes, read back by pyrekordbox and
the stdlib's XML parser."""

from __future__ import annotations

import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from pyrekordbox.rbxml import RekordboxXml

from conftest import Workspace
from cratefile.analysis import analyze_file, analyze_signal
from cratefile.records import AnalysisOptions, AnalysisResult
from cratefile.sinks.rekordbox.export import beat_grid
from cratefile.sinks.rekordbox.xml import RbPlaylist, RbTrack, write_rekordbox_xml
from cratefile.synth import render_array

SR = 44100
TOLERANCE = 0.020  # seconds


def _write_wav(path: Path, mix: np.ndarray) -> Path:
    pcm = np.clip(np.round(mix * 32767.0), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(mix.shape[1])
        out.setsampwidth(2)
        out.setframerate(SR)
        out.writeframes(pcm.tobytes())
    return path


def _track_with_lead(path: Path, *, bpm: float, lead: float, style: str = "four_on_floor", seconds: float = 15.0,
                     seed: int = 0) -> Path:
    """A synthetic track whose beats fall at lead + n * 60 / bpm: `lead` seconds of silence
    before the music, or with a negative lead, the music's first -lead seconds cut off (the
    file then starts between two beats)."""
    mix = render_array(bpm=bpm, key="Am", seconds=seconds, style=style, sr=SR, seed=seed)
    n = int(round(abs(lead) * SR))
    mix = np.concatenate([np.zeros((n, 2), np.float32), mix]) if lead >= 0 else mix[n:]
    return _write_wav(path, mix)


def _first_grid_beat(lead: float, bpm: float) -> float:
    """The first beat at or after 0 of the grid lead + n * 60 / bpm."""
    return lead % (60.0 / bpm)


# (bpm, style, lead): the issue's track (first beat at 250 ms), one on the beat at 0, one cut
# mid-beat, a long intro of silence, and the other drum styles whose beats carry the kick or
# the backbeat.
CASES = [
    (128.0, "four_on_floor", 0.25),
    (124.0, "four_on_floor", 0.0),
    (122.5, "four_on_floor", 0.1),
    (126.0, "four_on_floor", 1.3),
    (133.33, "four_on_floor_breakdown", -0.2),
    (124.0, "four_on_floor_intro", 0.37),
    (174.0, "dnb", 0.25),
    (90.0, "halftime", 0.25),
    (124.0, "polyrhythm", 0.25),
]


@pytest.mark.parametrize(("bpm", "style", "lead"), CASES, ids=[f"{b:g}-{s}-{lead:g}s" for b, s, lead in CASES])
def test_first_beat_is_where_the_beats_are(tmp_path: Path, bpm: float, style: str, lead: float) -> None:
    path = _track_with_lead(tmp_path / "t.wav", bpm=bpm, lead=lead, style=style, seed=int(bpm) % 7)
    result = analyze_file(path, AnalysisOptions())
    expected = _first_grid_beat(lead, bpm)
    assert result["first_beat"] == pytest.approx(expected, abs=TOLERANCE), result
    assert 0.0 <= result["first_beat"] < 60.0 / result["bpm"] + TOLERANCE
    # The grid Rekordbox draws, first_beat + n * 60 / bpm with the BPM as exported, still sits
    # on the last beat of the track.
    step = 60.0 / result["bpm"]
    last = lead + int((15.0 - 0.5) * bpm / 60.0) * 60.0 / bpm
    n = round((last - result["first_beat"]) / step)
    assert result["first_beat"] + n * step == pytest.approx(last, abs=TOLERANCE), result


def test_the_issues_track_first_beat_at_250_ms(tmp_path: Path) -> None:
    at_250 = analyze_file(_track_with_lead(tmp_path / "late.wav", bpm=128.0, lead=0.25), AnalysisOptions())
    on_0 = analyze_file(_track_with_lead(tmp_path / "on.wav", bpm=128.0, lead=0.0), AnalysisOptions())
    assert at_250["first_beat"] == pytest.approx(0.250, abs=TOLERANCE)
    assert on_0["first_beat"] == pytest.approx(0.0, abs=TOLERANCE)
    assert at_250["bpm"] == pytest.approx(128.0, abs=0.1) and on_0["bpm"] == pytest.approx(128.0, abs=0.1)


@pytest.mark.xfail(strict=True, reason="known limit: the synthetic breakbeat kicks twice off the beat for once on "
                                       "it, and the grid lands on the off-beat (half a beat late)")
def test_first_beat_of_a_syncopated_break(tmp_path: Path) -> None:
    result = analyze_file(_track_with_lead(tmp_path / "b.wav", bpm=140.0, lead=0.25, style="breakbeat"),
                          AnalysisOptions())
    assert result["first_beat"] == pytest.approx(_first_grid_beat(0.25, 140.0), abs=TOLERANCE)


def test_no_reliable_pulse_no_first_beat() -> None:
    noise = np.random.default_rng(1).standard_normal(20 * 11025).astype(np.float32) * 0.1
    result = analyze_signal(noise, 11025, AnalysisOptions())
    assert result["first_beat"] is None and result["bpm_confidence"] < 0.1
    # Under 2 s there is no tempo at all: bpm 0, and no grid either.
    short = render_array(bpm=128.0, key="Am", seconds=1.5, sr=11025).mean(axis=1)
    result = analyze_signal(short, 11025, AnalysisOptions())
    assert result["bpm"] == 0.0 and result["first_beat"] is None


# --- Rekordbox -----------------------------------------------------------------------------


def _write(tmp_path: Path, tracks: list[RbTrack]) -> Path:
    dest = tmp_path / "rekordbox.xml"
    write_rekordbox_xml(dest, tracks, [RbPlaylist("p", tuple(t.track_id for t in tracks))], product_version="0")
    return dest


def _track(tmp_path: Path, track_id: int, *, bpm: float | None, first_beat: float | None) -> RbTrack:
    path = tmp_path / f"{track_id}.wav"
    path.write_bytes(b"\0" * 100)
    return RbTrack(track_id=track_id, path=path, name=f"T{track_id}", artist="A", bpm=bpm, first_beat=first_beat)


def test_tempo_starts_on_the_first_beat(tmp_path: Path) -> None:
    dest = _write(tmp_path, [_track(tmp_path, 1, bpm=128.0, first_beat=0.25),
                             _track(tmp_path, 2, bpm=174.004, first_beat=0.0004)])
    elements = ET.parse(dest).getroot().findall("COLLECTION/TRACK")
    tempos = [e.findall("TEMPO") for e in elements]
    assert [[t.attrib for t in ts] for ts in tempos] == [
        [{"Inizio": "0.250", "Bpm": "128.00", "Metro": "4/4", "Battito": "1"}],
        [{"Inizio": "0.000", "Bpm": "174.00", "Metro": "4/4", "Battito": "1"}],
    ]
    (first, second) = RekordboxXml(dest).get_tracks()
    assert first["AverageBpm"] == 128.0
    assert [(t.Inizio, t.Bpm, t.Metro, t.Battito) for t in first.tempos] == [(0.25, 128.0, "4/4", 1)]
    assert [(t.Inizio, t.Bpm) for t in second.tempos] == [(0.0, 174.0)]


def test_a_track_without_pulse_has_no_tempo_and_no_bpm(tmp_path: Path) -> None:
    dest = _write(tmp_path, [_track(tmp_path, 1, bpm=None, first_beat=None),
                             _track(tmp_path, 2, bpm=None, first_beat=0.5),  # a grid needs a BPM
                             _track(tmp_path, 3, bpm=120.0, first_beat=None)])  # a BPM without a grid
    elements = ET.parse(dest).getroot().findall("COLLECTION/TRACK")
    assert [e.findall("TEMPO") for e in elements] == [[], [], []]
    assert [e.get("AverageBpm") for e in elements] == [None, None, "120.00"]
    read = RekordboxXml(dest).get_tracks()
    assert [(t.get("AverageBpm"), t.tempos) for t in read] == [(None, []), (None, []), (120.0, [])]


def _analysis(bpm: float | None, first_beat: float | None, source: str = "analysis",
              measured_bpm: float | None = None, looked: bool = True) -> AnalysisResult:
    """An analysis result as the analyze stage writes it; `looked`: by an analyzer that
    measures first beats."""
    measured: dict[str, object] = {"bpm": measured_bpm if measured_bpm is not None else bpm or 0.0}
    if looked:
        measured["first_beat"] = first_beat
    return AnalysisResult(bpm=bpm, bpm_source=source, first_beat=first_beat, measured=measured)


def test_which_tracks_get_a_grid() -> None:
    assert beat_grid(128.0, _analysis(128.0, 0.25)) == (128.0, 0.25)
    # The analysis looked for a pulse and found none reliable: its BPM is a guess.
    assert beat_grid(112.6, _analysis(112.6, None)) == (None, None)
    assert beat_grid(None, _analysis(None, None)) == (None, None)
    assert beat_grid(None, None) == (None, None)
    # A BPM from the file's own tags is kept; a grid only where the analysis measured that
    # pulse (or an octave of it).
    assert beat_grid(64.0, _analysis(64.0, 0.3, "tag", measured_bpm=128.02)) == (64.0, 0.3)
    assert beat_grid(100.0, _analysis(100.0, 0.3, "tag", measured_bpm=128.02)) == (100.0, None)
    assert beat_grid(100.0, _analysis(100.0, None, "tag", measured_bpm=97.3)) == (100.0, None)
    # An analysis from before first beats (none in its output), or no analysis: BPM, no grid.
    assert beat_grid(128.0, _analysis(128.0, None, looked=False)) == (128.0, None)
    assert beat_grid(128.0, None) == (128.0, None)


def test_export_writes_the_measured_grid(workspace: Workspace) -> None:
    _track_with_lead(workspace.music / "01 late.wav", bpm=128.0, lead=0.25, seconds=12.0)
    noise = np.random.default_rng(3).standard_normal((12 * SR, 2)).astype(np.float32) * 0.1
    _write_wav(workspace.music / "02 noise.wav", noise)
    workspace.manifest("""
        playlists:
          - name: Set
            folder: music
            formats: [wav]
    """)
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    rc, out, err = workspace.run("export", "rekordbox", "-o", "out/rb.xml")
    assert rc == 0, out + err
    dest = workspace.root / "out" / "rb.xml"
    by_name = {e.get("Name"): e for e in ET.parse(dest).getroot().findall("COLLECTION/TRACK")}
    assert sorted(by_name) == ["01 late", "02 noise"]
    (tempo,) = by_name["01 late"].findall("TEMPO")
    assert float(tempo.get("Inizio", "nan")) == pytest.approx(0.25, abs=TOLERANCE)
    assert float(tempo.get("Bpm", "nan")) == pytest.approx(128.0, abs=0.1)
    assert by_name["02 noise"].findall("TEMPO") == [] and by_name["02 noise"].get("AverageBpm") is None
    read = {t["Name"]: t for t in RekordboxXml(dest).get_tracks()}
    assert read["01 late"].tempos[0].Inizio == pytest.approx(0.25, abs=TOLERANCE)
    assert read["02 noise"].tempos == [] and read["02 noise"].get("AverageBpm") is None
