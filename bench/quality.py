"""What knowing your sources costs: provenance + fingerprint CPU per 5-minute track, and
duplicate lookup in a 20,000-track fingerprint index, each next to a baseline of the same run.

    python bench/quality.py [--seconds 300] [--tracks 20000] [--repeat 3]

1. One 5-minute generated track as a 128k MP3 (a typical download) and as a 16-bit WAV.
   Baseline: what the pipeline already spends on that file — the download's probe (mutagen)
   and the analysis (warm, in-process, ffmpeg decode included). Measured: `quality.record.measure`
   (one ffmpeg run: chromaprint muxer + three spectrum excerpts). CPU = self + children, the
   median of --repeat. Target (issue 13): <= 0.3 s on top of the pipeline.
2. An index of --tracks fingerprints: the real ones of a few generated tracks among synthetic
   ones (random items drawn from a per-track pool of distinct values, in runs, as music repeats
   itself: ~2,400 items, ~1,000 distinct per 5 minutes). Lookup = `FingerprintIndex.find` of a
   new track (candidates from the inverted index, full comparison of the few that share enough),
   for re-encodes of indexed tracks (must be found) and for tracks not indexed (must find
   nothing). Baseline: comparing the new track with every indexed fingerprint, timed on 1,000
   and scaled. Target: <= 50 ms per new track.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cratefile.proc import ffmpeg_exe, run
from cratefile.quality import fingerprint
from cratefile.quality.dupes import FingerprintIndex, rank
from cratefile.quality.record import measure
from cratefile.records import AnalysisOptions
from cratefile.synth import render


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _median_cpu(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = _cpu()
        fn()  # type: ignore[operator]
        times.append(_cpu() - start)
    return statistics.median(times)


def _ffmpeg(*args: str) -> None:
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args])


def cpu_per_track(tmp: Path, seconds: float, repeat: int) -> None:
    from cratefile.analysis import analyze_file
    from cratefile.sources.probe import probe_audio

    wav = tmp / "track.wav"
    render(wav, bpm=126, key="Am", seconds=seconds, seed=7)
    mp3 = tmp / "track.mp3"
    _ffmpeg("-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3))
    analyze_file(mp3, AnalysisOptions())  # warm: imports and JIT, as a long-lived worker is
    measure(mp3, seconds)  # warm: the chromaprint check is made once per process
    print(f"1. CPU per {seconds / 60:g}-minute track (median of {repeat})")
    for path in (mp3, wav):
        download = _median_cpu(lambda p=path: probe_audio(p), repeat)
        analysis = _median_cpu(lambda p=path: analyze_file(p, AnalysisOptions()), repeat)
        quality = _median_cpu(lambda p=path: measure(p, seconds), repeat)
        record = measure(path, seconds)
        base = download + analysis
        assert record.provenance is not None and record.fingerprint is not None
        print(f"   {path.suffix[1:]:>4}: baseline download probe {download:.3f} s + analysis {analysis:.3f} s "
              f"= {base:.3f} s; provenance+fingerprint {quality:.3f} s = {quality / base:.2f} x baseline "
              f"(target <= 0.3 s: {'ok' if quality <= 0.3 else 'MISSED'}); verdict {record.provenance.label!r}")


def _fake_print(rng: np.random.Generator, items: int = 2400, distinct: int = 1000) -> np.ndarray:
    pool = rng.integers(0, 2**32, size=distinct, dtype=np.uint64).astype(np.uint32)
    runs = rng.integers(1, 4, size=items)
    picks = np.repeat(rng.integers(0, distinct, size=len(runs)), runs)[:items]
    return pool[picks]


def lookup(tmp: Path, tracks: int, seconds: float) -> None:
    rng = np.random.default_rng(1)
    indexed, fresh = [], []
    for seed in range(4):  # 4 real tracks in the index, each looked up by a 192k AAC re-encode
        wav = tmp / f"real{seed}.wav"
        render(wav, bpm=120 + seed * 3, key=["Am", "C", "F#m", "Eb"][seed], seconds=seconds, seed=100 + seed)
        m4a = tmp / f"real{seed}.m4a"
        _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(m4a))
        indexed.append((f"real {seed}", measure(wav, seconds)))
        fresh.append((f"real {seed}", measure(m4a, seconds)))
    others = []
    for seed in range(4):  # 4 real tracks not in the index (same tempo range and style)
        wav = tmp / f"other{seed}.wav"
        render(wav, bpm=120 + seed * 3, key=["Dm", "G", "Bbm", "E"][seed], seconds=seconds, seed=200 + seed)
        others.append(measure(wav, seconds))
    index = FingerprintIndex(tmp / "fingerprints.sqlite")
    try:
        start = time.perf_counter()
        fakes = [(f"fake {i}", _fake_print(rng), seconds, 128.0) for i in range(tracks - len(indexed))]
        made = time.perf_counter() - start
        start = time.perf_counter()
        index.add_many([(key, rec.items(), rec.duration, rank(rec.provenance)) for key, rec in indexed])
        for chunk in range(0, len(fakes), 2000):
            index.add_many(fakes[chunk:chunk + 2000])  # type: ignore[arg-type]
        built = time.perf_counter() - start
        rows = index._query("SELECT COUNT(*) FROM hashes")[0][0]
        print(f"2. Index of {index.size()} fingerprints ({rows} sampled items): built in {built:.1f} s "
              f"(synthetic prints made in {made:.1f} s)")
        found_ms, none_ms = [], []
        for _round in range(3):
            for key, rec in fresh:
                items = rec.items()
                assert items is not None
                start = time.perf_counter()
                found = index.find(items, rec.duration)
                found_ms.append((time.perf_counter() - start) * 1000)
                assert [d.key for d in found] == [key], (key, found)
            for rec in others:
                items = rec.items()
                assert items is not None
                start = time.perf_counter()
                found = index.find(items, rec.duration)
                none_ms.append((time.perf_counter() - start) * 1000)
                assert found == [], found
        probe = fresh[0][1].items()
        assert probe is not None
        sample = [f[1] for f in fakes[:1000]]
        start = time.perf_counter()
        for other in sample:
            fingerprint.compare(other, probe)
        linear = (time.perf_counter() - start) / len(sample) * index.size() * 1000
        worst = max(found_ms + none_ms)
        print(f"   lookup of a re-encode of an indexed track: median {statistics.median(found_ms):.1f} ms, "
              f"max {max(found_ms):.1f} ms (found every time)")
        print(f"   lookup of a track not indexed: median {statistics.median(none_ms):.1f} ms, "
              f"max {max(none_ms):.1f} ms (nothing found, as it should)")
        print(f"   baseline, comparing with every indexed track: {linear:.0f} ms per new track "
              f"(scaled from 1,000) = {linear / statistics.median(found_ms):.0f} x the indexed lookup")
        print(f"   target <= 50 ms per new track: {'ok' if worst <= 50 else 'MISSED'} (worst {worst:.1f} ms)")
    finally:
        index.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cpu", action="store_true", help="only the lookup benchmark")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cratefile-bench-quality-") as name:
        tmp = Path(name)
        if not opts.skip_cpu:
            cpu_per_track(tmp, opts.seconds, opts.repeat)
        lookup(tmp, opts.tracks, min(opts.seconds, 120.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
