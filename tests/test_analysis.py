"""cratefile.analysis on generated music with known tempo and key, through real ffmpeg."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cratefile.analysis import ALGO_VERSION, AnalyzerPool, analyze_file, fold_bpm, key_in_notation, parse_key
from cratefile.analysis.decode import decode_array
from cratefile.analysis.key import MAJOR_NAMES, MINOR_NAMES, Key
from cratefile.errors import Category, TrackFailure
from cratefile.proc import ffmpeg_exe, run
from cratefile.records import AnalysisOptions
from cratefile.synth import render

SECONDS = 20.0
# (bpm, key, style): plain styles of every drum kind, majors and minors, sharps and flats.
CASES = [
    (128.0, "Am", "four_on_floor"),
    (122.5, "Eb", "four_on_floor"),
    (140.0, "F#m", "breakbeat"),
    (90.0, "Bb", "halftime"),
    (174.0, "Gm", "dnb"),
    (124.0, "E", "polyrhythm"),
    (105.25, "Dbm", "breakbeat"),
    (133.33, "Ab", "four_on_floor_breakdown"),
]


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[float, str, str], Path]:
    folder = tmp_path_factory.mktemp("tracks")
    out = {}
    for i, (bpm, key, style) in enumerate(CASES):
        path = folder / f"{i}_{style}.wav"
        render(path, bpm=bpm, key=key, seconds=SECONDS, style=style, seed=i)
        out[(bpm, key, style)] = path
    return out


@pytest.fixture(scope="module")
def results(tracks: dict[tuple[float, str, str], Path]) -> dict[tuple[float, str, str], dict[str, Any]]:
    return {case: analyze_file(path, AnalysisOptions()) for case, path in tracks.items()}


@pytest.mark.parametrize("case", CASES, ids=[f"{b:g}-{k}-{s}" for b, k, s in CASES])
def test_tempo_within_a_tenth_of_a_bpm(results: dict, case: tuple[float, str, str]) -> None:
    # no range: the octave is the music's, 90 BPM half-time stays 90 and 174 BPM DnB stays 174
    bpm = results[case]["bpm"]
    assert abs(bpm - case[0]) <= 0.1, results[case]
    assert results[case]["bpm_alt"] == pytest.approx(bpm * 2 if bpm < 110 else bpm / 2, abs=0.02)


@pytest.mark.parametrize("case", CASES, ids=[f"{b:g}-{k}-{s}" for b, k, s in CASES])
def test_key_exact(results: dict, case: tuple[float, str, str]) -> None:
    assert parse_key(results[case]["key"]) == parse_key(case[1]), results[case]


def test_result_is_json_with_every_field(results: dict) -> None:
    result = results[(128.0, "Am", "four_on_floor")]
    assert json.loads(json.dumps(result)) == result
    assert result["key"] == "Am" and result["camelot"] == "8A" and result["openkey"] == "1m"
    assert result["algo_version"] == ALGO_VERSION
    assert result["duration"] == pytest.approx(SECONDS, abs=0.01)
    assert 0.3 < result["bpm_confidence"] <= 1.0
    assert result["key_confidence"] > 0.0
    # The synth peaks at -1 dBFS; dance music sits around -8..-16 LUFS.
    assert -20.0 < result["loudness_db"] < -5.0
    assert round(result["bpm"], 2) == result["bpm"]
    # The synth's first beat is at 0 s: the grid starts there (within 20 ms, at or after 0).
    assert 0.0 <= result["first_beat"] <= 0.02
    assert round(result["first_beat"], 3) == result["first_beat"]


def test_dnb_folding_follows_a_forced_range(tracks: dict) -> None:
    path = tracks[(174.0, "Gm", "dnb")]
    force = {"bpm_range_mode": "force"}
    assert analyze_file(path, AnalysisOptions(120.0, 240.0, **force))["bpm"] == pytest.approx(174.0, abs=0.1)
    folded = analyze_file(path, AnalysisOptions(60.0, 120.0, **force))
    # forced down an octave, the music's own choice is kept as the alternative
    assert folded["bpm"] == pytest.approx(87.0, abs=0.05) and folded["bpm_alt"] == pytest.approx(174.0, abs=0.1)


def test_halftime_folds_up_into_a_forced_high_range(tracks: dict) -> None:
    options = AnalysisOptions(bpm_min=100.0, bpm_max=200.0, bpm_range_mode="force")
    result = analyze_file(tracks[(90.0, "Bb", "halftime")], options)
    assert result["bpm"] == pytest.approx(180.0, abs=0.1)


def test_a_preferred_range_does_not_override_clear_evidence(tracks: dict) -> None:
    # drum & bass with 16th hats and alternating kick and snare is 174, not 87, even when the
    # preferred range says 60-120
    result = analyze_file(tracks[(174.0, "Gm", "dnb")], AnalysisOptions(bpm_min=60.0, bpm_max=120.0))
    assert result["bpm"] == pytest.approx(174.0, abs=0.1)


@pytest.mark.parametrize(
    ("bpm", "lo", "hi", "expected"),
    [
        (87.0, 88.0, 176.0, 174.0),
        (176.0, 88.0, 176.0, 88.0),
        (88.0, 88.0, 176.0, 88.0),
        (350.0, 88.0, 176.0, 87.5 * 2),
        (174.0, 120.0, 240.0, 174.0),
        (70.0, 120.0, 240.0, 140.0),
        (60.0, 100.0, 150.0, 120.0),  # narrower than an octave: nearest family member
        (0.0, 88.0, 176.0, 0.0),
    ],
)
def test_fold_bpm(bpm: float, lo: float, hi: float, expected: float) -> None:
    assert fold_bpm(bpm, lo, hi) == pytest.approx(expected)


# --- notations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "standard", "camelot", "openkey"),
    [
        ("Am", "Am", "8A", "1m"),
        ("C", "C", "8B", "1d"),
        ("F#m", "F#m", "11A", "4m"),
        ("Eb", "Eb", "5B", "10d"),
        ("G#m", "Abm", "1A", "6m"),
        ("C#m", "Dbm", "12A", "5m"),
        ("Gb", "F#", "2B", "7d"),
        ("B", "B", "1B", "6d"),
        ("D minor", "Dm", "7A", "12m"),
        ("Bb major", "Bb", "6B", "11d"),
        ("a♯m", "Bbm", "3A", "8m"),
    ],
)
def test_key_notations(name: str, standard: str, camelot: str, openkey: str) -> None:
    assert key_in_notation(name, "standard") == standard
    assert key_in_notation(name, "camelot") == camelot
    assert key_in_notation(name, "openkey") == openkey


def test_every_key_round_trips_through_every_notation() -> None:
    seen = {"camelot": set(), "openkey": set()}
    for tonic in range(12):
        for minor in (False, True):
            key = Key(tonic, minor)
            for notation in ("standard", "camelot", "openkey"):
                written = key.notation(notation)
                assert parse_key(written) == key, (key, notation, written)
                if notation != "standard":
                    seen[notation].add(written)
    assert len(seen["camelot"]) == len(seen["openkey"]) == 24
    assert {parse_key(n).standard for n in MAJOR_NAMES + MINOR_NAMES} == set(MAJOR_NAMES + MINOR_NAMES)


@pytest.mark.parametrize("bad", ["H", "13A", "Am7", "", "0B"])
def test_bad_key_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        key_in_notation(bad, "camelot")
    with pytest.raises(ValueError):
        key_in_notation("Am", "sharps")


# --- failures ------------------------------------------------------------------------------


def _silent_wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\0" * int(seconds * 44100) * 4)
    return path


@pytest.mark.parametrize("kind", ["text", "empty", "missing", "silent", "too_short", "truncated"])
def test_unusable_files_fail_as_analysis_failed(tmp_path: Path, tracks: dict, kind: str) -> None:
    path = tmp_path / f"{kind}.mp3"
    if kind == "text":
        path.write_text("this is not audio\n" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "silent":
        path = _silent_wav(tmp_path / "silent.wav", 3.0)
    elif kind == "too_short":
        path = tmp_path / "short.wav"
        render(path, bpm=120, key="C", seconds=0.5)
    elif kind == "truncated":  # a WAV header that promises audio, and 40 bytes of it
        path = tmp_path / "truncated.wav"
        path.write_bytes(tracks[(128.0, "Am", "four_on_floor")].read_bytes()[:84])
    with pytest.raises(TrackFailure) as info:
        analyze_file(path, AnalysisOptions())
    assert info.value.category is Category.ANALYSIS_FAILED
    assert info.value.permanent


def test_noise_gets_low_confidence() -> None:
    from cratefile.analysis import analyze_signal

    noise = np.random.default_rng(1).standard_normal(20 * 11025).astype(np.float32) * 0.1
    result = analyze_signal(noise, 11025, AnalysisOptions())
    assert result["bpm_confidence"] < 0.15
    assert result["key_confidence"] < 0.1


@pytest.mark.parametrize(("key", "cents"), [("Am", 40.0), ("Eb", -35.0), ("F#m", 25.0)])
def test_key_survives_detuning(key: str, cents: float) -> None:
    from cratefile.analysis import analyze_signal
    from cratefile.synth import render_array

    y = render_array(bpm=124, key=key, seconds=15, sr=11025, seed=3, tuning_cents=cents).mean(axis=1)
    assert analyze_signal(y, 11025, AnalysisOptions())["key"] == key


def test_frames_read_in_blocks_match_the_whole_signal(tmp_path: Path) -> None:
    from cratefile.analysis.decode import ArraySamples, RawFileSamples, frame_blocks

    rng = np.random.default_rng(0)
    y = (rng.standard_normal(10_000) * 8000).astype("<i2")
    raw = tmp_path / "x.s16"
    raw.write_bytes(y.tobytes())
    whole = np.pad(y / 32768.0, (256, 256))
    expected = np.lib.stride_tricks.sliding_window_view(whole, 512)[::128]
    with open(raw, "rb") as fh:
        for source in (ArraySamples(y / 32768.0, 11025), RawFileSamples(fh, 11025)):
            got = np.concatenate(list(frame_blocks(source, 512, 128, pad=256, per_block=7)))
            np.testing.assert_allclose(got, expected, atol=1e-6)


def test_loudness_is_lufs(tmp_path: Path) -> None:
    # A 997 Hz sine at amplitude A in both channels reads 20*log10(A) LUFS (BS.1770: the
    # -0.691 dB offset cancels the K-weighting gain at 997 Hz, the two channels add up).
    path = tmp_path / "sine.wav"
    run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=997:d=6:sample_rate=44100",
         "-af", "volume=4.0,pan=stereo|c0=c0|c1=c0", str(path)])  # sine is 1/8 full scale
    result = analyze_file(path, AnalysisOptions())
    assert result["loudness_db"] == pytest.approx(20 * math.log10(0.5), abs=0.3)


def _cli_decode(path: Path, tmp: Path) -> bytes:
    from cratefile.analysis.decode import ANALYSIS_SR, decode_argv

    out = tmp / "cli.s16"
    run(decode_argv(path, ANALYSIS_SR, out), capture_stdout=False)
    return out.read_bytes()


def _graph_decode(path: Path, tmp: Path) -> bytes | None:
    """The graph run alone (None where it logged an error and decoded() would fall back)."""
    from cratefile import graphinput
    from cratefile.analysis.decode import ANALYSIS_SR, graph_decode_argv

    work = tmp / "graph"
    work.mkdir(parents=True)
    argv = graph_decode_argv(graphinput.link(path, work), ANALYSIS_SR, "out.s16")
    if graphinput.run_graph(argv, work, 60.0) is None:
        return None
    return (work / "out.s16").read_bytes()


def test_the_graph_decode_gives_the_command_lines_samples(tmp_path: Path, tracks: dict) -> None:
    # Stereo whose channels differ, at 48 kHz, in a name no filter graph could take unescaped.
    src = tmp_path / "x.wav"
    run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
         "aevalsrc=0.4*sin(440*2*PI*t)+0.2*random(0)|0.3*sin(663*2*PI*t)*sin(3*t):s=48000:d=8", str(src)])
    mp3 = tmp_path / "DJ's mix, [part 1]: a=b;c.mp3"
    run([ffmpeg_exe(), "-v", "error", "-i", str(src), "-c:a", "libmp3lame", "-b:a", "192k", str(mp3)])
    for i, path in enumerate((src, mp3, tracks[(128.0, "Am", "four_on_floor")])):
        graph = _graph_decode(path, tmp_path / str(i))
        assert graph is not None, path
        assert graph == _cli_decode(path, tmp_path), path
        samples, loudness = decode_array(path)
        assert samples.size * 2 == len(graph) and loudness is not None


def test_a_damaged_mp3_decodes_as_far_as_the_command_line_gets(tmp_path: Path, tracks: dict) -> None:
    mp3 = tmp_path / "damaged.mp3"
    run([ffmpeg_exe(), "-v", "error", "-i", str(tracks[(140.0, "F#m", "breakbeat")]),
         "-c:a", "libmp3lame", "-b:a", "128k", str(mp3)])
    data = bytearray(mp3.read_bytes())
    at = len(data) // 4
    data[at:at + 400] = np.random.default_rng(5).integers(0, 256, 400, dtype=np.uint8).tobytes()
    mp3.write_bytes(bytes(data))
    # amovie alone stops at the damage (and exits 0); decoded() must notice and recover the rest.
    assert _graph_decode(mp3, tmp_path) is None
    samples, _ = decode_array(mp3)
    assert samples.size * 2 == len(_cli_decode(mp3, tmp_path))
    assert samples.size > 0.9 * SECONDS * 11025


def test_lossy_encoding_keeps_tempo_and_key(tmp_path: Path, tracks: dict) -> None:
    source = tracks[(140.0, "F#m", "breakbeat")]
    mp3 = tmp_path / "t.mp3"
    run([ffmpeg_exe(), "-v", "error", "-i", str(source), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3)])
    result = analyze_file(mp3, AnalysisOptions())
    assert result["bpm"] == pytest.approx(140.0, abs=0.1)
    assert result["key"] == "F#m"


# --- worker pool ---------------------------------------------------------------------------


def test_pool_matches_in_process_and_serves_two_threads(tracks: dict, results: dict) -> None:
    cases = list(tracks)[:4]
    got: dict[tuple[float, str, str], dict[str, Any]] = {}
    errors: list[BaseException] = []

    def work(mine: list[tuple[float, str, str]]) -> None:
        try:
            for case in mine:
                got[case] = pool.analyze(tracks[case], AnalysisOptions())
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    with AnalyzerPool(workers=2) as pool:
        threads = [threading.Thread(target=work, args=(cases[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert got == {case: results[case] for case in cases}
        with pytest.raises(TrackFailure) as info:
            pool.analyze(Path("/nonexistent/file.mp3"), AnalysisOptions())
        assert info.value.category is Category.ANALYSIS_FAILED
        # A bad file does not cost the pool a worker.
        assert pool.analyze(tracks[cases[0]], AnalysisOptions()) == results[cases[0]]
    assert len(pool.pids) == 0


def test_the_pool_starts_more_workers_only_for_callers_at_once(tracks: dict) -> None:
    paths = list(tracks.values())
    with AnalyzerPool(workers=2) as pool:
        for path in paths[:3]:  # one caller at a time (a run at -n 1): one worker does it all
            pool.analyze(path, AnalysisOptions())
        assert len(pool.pids) == 1
        start = threading.Barrier(4)

        def work(path: Path) -> None:
            start.wait()
            pool.analyze(path, AnalysisOptions())

        threads = [threading.Thread(target=work, args=(p,)) for p in paths[:4]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(pool.pids) == 2  # four callers at once: grown to the pool's size, no further


def crash_or_hang(path: Path, options: AnalysisOptions) -> dict[str, Any]:
    """Injected into the pool's workers: dies on '*crash*', hangs on '*hang*'."""
    if "crash" in path.name:
        os._exit(3)
    if "hang" in path.name:
        time.sleep(60)
    if "bug" in path.name:
        raise KeyError("oops")
    return analyze_file(path, options)


def test_pool_survives_crashes_hangs_and_killed_workers(tmp_path: Path, tracks: dict, results: dict) -> None:
    good = tracks[(128.0, "Am", "four_on_floor")]
    with AnalyzerPool(workers=1, timeout=3.0, analyze=crash_or_hang) as pool:
        started = time.monotonic()
        with pytest.raises(TrackFailure, match="worker died") as info:
            pool.analyze(tmp_path / "crash.wav", AnalysisOptions())
        assert info.value.category is Category.TRANSIENT  # a dead worker is no verdict on the file
        assert not info.value.permanent
        assert pool.analyze(good, AnalysisOptions()) == results[(128.0, "Am", "four_on_floor")]

        with pytest.raises(TrackFailure, match="no answer"):
            pool.analyze(tmp_path / "hang.wav", AnalysisOptions())
        assert time.monotonic() - started < 30.0

        with pytest.raises(TrackFailure, match="internal error.*KeyError"):
            pool.analyze(tmp_path / "bug.wav", AnalysisOptions())

        # A worker killed from outside while idle is replaced, and the track does not suffer.
        (pid,) = pool.pids
        os.kill(pid, signal.SIGKILL)
        assert pool.analyze(good, AnalysisOptions()) == results[(128.0, "Am", "four_on_floor")]
        assert pool.pids and pid not in pool.pids


def test_closed_pool_refuses_work(tracks: dict) -> None:
    pool = AnalyzerPool(workers=1)
    pool.close()
    with pytest.raises(Exception, match="closed"):
        pool.analyze(next(iter(tracks.values())), AnalysisOptions())
