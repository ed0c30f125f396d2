"""Provenance on generated audio encoded through the real ffmpeg: lossy files at several
bitrates, the same re-decoded to lossless containers (the fake lossless a DJ should not play
on a club system), and true lossless files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cratefile.proc import ffmpeg_exe, run
from cratefile.quality.provenance import (
    StreamInfo,
    effective_bandwidth,
    judge,
    kbps_for_cutoff,
    parse_stream_info,
)
from cratefile.quality.record import QualityRecord, measure
from cratefile.synth import render

SECONDS = 20.0


def _ffmpeg(*args: str) -> None:
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args])


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case of the module, encoded once."""
    d = tmp_path_factory.mktemp("provenance")
    src = d / "master.wav"
    render(src, bpm=126, key="Am", seconds=SECONDS, seed=3)
    files = {"master.wav": src}

    def encode(name: str, source: Path, *args: str) -> None:
        _ffmpeg("-i", str(source), *args, str(d / name))
        files[name] = d / name

    for kbps in (128, 192, 320):
        encode(f"mp3_{kbps}.mp3", src, "-c:a", "libmp3lame", "-b:a", f"{kbps}k")
    encode("aac_128.m4a", src, "-c:a", "aac", "-b:a", "128k")
    encode("from_128.wav", files["mp3_128.mp3"])  # re-decoded: a WAV made from a 128k MP3
    encode("from_320.wav", files["mp3_320.mp3"])
    encode("from_aac.aiff", files["aac_128.m4a"])
    encode("from_128.flac", files["mp3_128.mp3"])
    encode("upscaled_320.mp3", files["mp3_128.mp3"], "-c:a", "libmp3lame", "-b:a", "320k")
    encode("master_24.flac", src, "-c:a", "flac", "-sample_fmt", "s32")  # 24-bit FLAC from the master
    encode("master_48k_mono.wav", src, "-ar", "48000", "-ac", "1")
    return files


@pytest.fixture(scope="module")
def measured(audio: dict[str, Path]) -> dict[str, QualityRecord]:
    return {name: measure(path, SECONDS) for name, path in audio.items()}


def test_true_lossless_files_are_lossless(measured: dict[str, QualityRecord]) -> None:
    for name in ("master.wav", "master_24.flac", "master_48k_mono.wav"):
        p = measured[name].provenance
        assert p is not None and p.verdict == "lossless" and p.label == "lossless", (name, p)
        assert p.cutoff is None and p.bandwidth is not None and p.bandwidth >= 21000, (name, p)


def test_stream_facts_of_lossless_files(measured: dict[str, QualityRecord]) -> None:
    wav = measured["master.wav"].provenance
    assert wav is not None
    facts = (wav.container, wav.codec, wav.sample_rate, wav.bit_depth, wav.channels)
    assert facts == ("wav", "pcm_s16le", 44100, 16, 2)
    flac = measured["master_24.flac"].provenance
    assert flac is not None and (flac.container, flac.codec, flac.bit_depth) == ("flac", "flac", 24)
    mono = measured["master_48k_mono.wav"].provenance
    assert mono is not None and (mono.sample_rate, mono.channels) == (48000, 1)
    assert math.isclose(measured["master.wav"].duration or 0, SECONDS, abs_tol=0.05)


@pytest.mark.parametrize(("name", "kbps", "low", "high"), [
    ("mp3_128.mp3", 128, 15500, 17500),
    ("mp3_192.mp3", 192, 17700, 19300),
    ("mp3_320.mp3", 320, 19300, 20500),
])
def test_lossy_mp3_cutoff_follows_the_bitrate(measured: dict[str, QualityRecord], name: str, kbps: int,
                                              low: float, high: float) -> None:
    p = measured[name].provenance
    assert p is not None
    assert p.verdict == "lossy" and p.label == f"lossy mp3 ~{kbps}k", p
    assert p.container == "mp3" and p.bit_depth is None and p.bitrate == kbps
    assert p.cutoff is not None and low <= p.cutoff < high, p.cutoff


def test_aac_is_lossy_with_its_cutoff(measured: dict[str, QualityRecord]) -> None:
    p = measured["aac_128.m4a"].provenance
    assert p is not None and p.verdict == "lossy" and p.codec == "aac" and p.container == "m4a"
    assert p.label.startswith("lossy aac ~")
    assert p.cutoff is not None and p.cutoff < 17700 and p.from_kbps == 128


@pytest.mark.parametrize(("name", "origin"), [
    ("from_128.wav", 128), ("from_320.wav", 320), ("from_aac.aiff", 128), ("from_128.flac", 128),
])
def test_lossless_containers_made_from_lossy_files_are_upscaled(measured: dict[str, QualityRecord], name: str,
                                                                origin: int) -> None:
    p = measured[name].provenance
    assert p is not None
    assert p.verdict == "upscaled" and p.label.startswith(f"upscaled from ~{origin}k"), p
    assert p.lossy_origin


def test_a_320k_mp3_made_from_a_128k_one_is_upscaled(measured: dict[str, QualityRecord]) -> None:
    p = measured["upscaled_320.mp3"].provenance
    assert p is not None and p.bitrate == 320
    assert p.verdict == "upscaled" and p.label == "upscaled from ~128k (mp3 ~320k)", p


def test_a_silent_lossless_file_says_it_cannot_tell(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "15", "-c:a", "pcm_s16le", str(path))
    record = measure(path, 15.0)
    assert record.provenance is not None and record.provenance.verdict == "unknown"


def test_a_file_ffmpeg_cannot_read_gives_a_record_with_the_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"not audio at all" * 100)
    record = measure(path, None)
    assert record.provenance is None and record.fingerprint is None
    assert record.error and "junk.mp3" in record.error


def test_a_natural_rolloff_is_not_a_cutoff() -> None:
    """Pink-ish noise falling 6 dB per octave into the floor: no cliff, so lossless."""
    sr = 44100
    rng = np.random.default_rng(1)
    white = rng.standard_normal(sr * 4).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white), 1 / sr)
    spectrum[1:] /= np.sqrt(freqs[1:] / 100.0)
    pink = np.fft.irfft(spectrum).astype(np.float32)
    pink *= 0.3 / float(np.max(np.abs(pink)))
    bandwidth, cutoff = effective_bandwidth([pink], sr)
    assert cutoff is None and bandwidth == sr / 2


def test_a_lowpass_cliff_is_found_where_it_is() -> None:
    sr = 48000
    rng = np.random.default_rng(2)
    spectrum = np.fft.rfft(rng.standard_normal(sr * 3))
    freqs = np.fft.rfftfreq(sr * 3, 1 / sr)
    spectrum[freqs > 15000] *= 1e-5
    signal = (np.fft.irfft(spectrum) * 0.05).astype(np.float32)
    _bandwidth, cutoff = effective_bandwidth([signal], sr)
    assert cutoff is not None and 14800 <= cutoff <= 15400
    assert kbps_for_cutoff(cutoff) == 96


def test_parse_stream_info_reads_the_first_input_only() -> None:
    banner = (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/x/a.m4a':\n"
        "  Duration: 00:05:01.50, start: 0.000000, bitrate: 258 kb/s\n"
        "  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 256 kb/s (default)\n"
        "Input #1, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/x/a.m4a':\n"
        "  Stream #1:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 22050 Hz, mono, fltp, 64 kb/s (default)\n"
    )
    info = parse_stream_info(banner, ".m4a")
    assert info == StreamInfo(container="m4a", codec="aac", bitrate=256, sample_rate=44100, bit_depth=None,
                              channels=2, duration=301.5)


def test_judge_keeps_the_declared_bitrate_of_an_honest_lossy_file() -> None:
    info = StreamInfo(container="mp3", codec="mp3", bitrate=192, sample_rate=44100, channels=2)
    assert judge(info, 18800.0, 18800.0).label == "lossy mp3 ~192k"
    assert judge(info, 16600.0, 16600.0).verdict == "lossy"  # 192 over ~128: within what encoders do
    assert judge(StreamInfo(codec="pcm_s16le", sample_rate=44100), 22050.0, None).verdict == "lossless"


@pytest.fixture(scope="module")
def long_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """100 s sources: long enough that the fingerprint window starts inside the track, in the
    containers whose clocks differ (an MP3's encoder delay; AAC's priming; none for FLAC)."""
    d = tmp_path_factory.mktemp("windows")
    master = d / "master.wav"
    render(master, bpm=128, key="Fm", seconds=100.0, seed=11)
    files = {}
    for name, args in (("delay.mp3", ["-c:a", "libmp3lame", "-b:a", "320k"]),
                       ("primed.m4a", ["-c:a", "aac", "-b:a", "192k"]),
                       ("plain.flac", ["-c:a", "flac"]),
                       ("surround.wav", ["-af", "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1"])):
        _ffmpeg("-i", str(master), *args, str(d / name))
        files[name] = d / name
    return files


@pytest.mark.parametrize("name", ["delay.mp3", "primed.m4a", "plain.flac", "surround.wav"])
def test_the_graph_windows_are_the_command_lines_byte_for_byte(long_sources: dict[str, Path], name: str,
                                                               tmp_path: Path) -> None:
    """The graph run decodes each window from the packet the command line's `-ss` starts on and
    cuts it at the same sample, so fingerprints measured before and after it still compare."""
    from cratefile.quality.record import measure_argv, measure_run

    src = long_sources[name]
    work = tmp_path / "g"
    work.mkdir()
    text, out = measure_run(ffmpeg_exe(), src, 100.0, work, True)
    assert out.name == "graph", "the graph run fell back to the command line"
    plain = tmp_path / "p"
    plain.mkdir()
    run(measure_argv(ffmpeg_exe(), src, 100.0, plain, True), timeout=120, capture_stdout=False)
    names = sorted(p.name for p in plain.iterdir())
    assert names == ["ex0.raw", "ex1.raw", "ex2.raw", "fp.raw"]
    for file in names:
        assert (out / file).read_bytes() == (plain / file).read_bytes(), file
    assert parse_stream_info(text, src.suffix).codec == {"delay.mp3": "mp3", "primed.m4a": "aac",
                                                         "plain.flac": "flac", "surround.wav": "pcm_s16le"}[name]


def test_a_damaged_mp3_is_measured_by_the_command_line(long_sources: dict[str, Path], tmp_path: Path) -> None:
    """`amovie` stops at a packet it cannot read (and ffmpeg exits 0): that run is not used."""
    from cratefile.quality.record import measure_run

    damaged = tmp_path / "damaged.mp3"
    data = bytearray(long_sources["delay.mp3"].read_bytes())
    data[len(data) // 2: len(data) // 2 + 20000] = b"\xff" * 20000
    damaged.write_bytes(bytes(data))
    work = tmp_path / "w"
    work.mkdir()
    text, out = measure_run(ffmpeg_exe(), damaged, 100.0, work, True)
    assert out.name == "plain"
    # the excerpt from after the damage is whole (the graph run would have stopped before it)
    assert (out / "ex0.raw").stat().st_size == (out / "ex2.raw").stat().st_size == 4 * 3 * 44100
    record = measure(damaged, 100.0)
    assert record.fingerprint and record.provenance is not None and record.provenance.codec == "mp3"
