"""Per-track CPU seconds of the pipeline on a 5-minute generated track, next to ffmpeg alone.

    python bench/pipeline.py [--seconds 300]

Runs, in a temporary workspace:
  1. `cratefile` building one track into wav, aiff and m4a (a fresh process: includes the
     analysis worker's start-up and librosa import),
  2. the same track's stages in this process, warm: source read, analysis, each conversion,
  3. ffmpeg alone doing the same three conversions (the floor).
CPU = user + system of this process and its children.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cratefile.proc import ffmpeg_exe, run
from cratefile.synth import render


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def measure(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    c0, t0 = cpu(), time.perf_counter()
    fn()
    used, wall = cpu() - c0, time.perf_counter() - t0
    print(f"  {label:<38} {used:7.2f} s CPU {wall:7.2f} s wall")
    return used


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        (ws / "music").mkdir()
        src = ws / "music" / "Bench - Track.wav"
        render(src, bpm=126, key="Am", seconds=args.seconds, style="four_on_floor_breakdown")
        mp3 = ws / "music" / "Bench - Track.mp3"
        run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(src), "-b:a", "320k", str(mp3)])
        src.unlink()
        (ws / "playlists.yaml").write_text("playlists:\n  - {name: Bench, folder: music, formats: [wav, aiff, m4a]}\n")
        print(f"one {args.seconds:.0f} s track (320k MP3 source) -> wav, aiff, m4a")

        print("cratefile, fresh process (whole run):")
        full = measure("cratefile build", lambda: subprocess.run(
            [sys.executable, "-m", "cratefile.cli"], cwd=ws, check=True, stdout=subprocess.DEVNULL))

        print("stages, warm, in this process:")
        import yaml

        from cratefile.analysis import analyze_file
        from cratefile.records import AnalysisOptions, FormatRecipe
        from cratefile.sources.folder import enumerate_folder, prepare
        from cratefile.stages.convert import convert
        from cratefile.tags import TrackTags

        recipes = yaml.safe_load((Path(__import__("cratefile").__file__).parent / "rules/formats.yaml").read_text())
        ref = enumerate_folder(ws / "music")[0]
        stage_total = measure("download (read local source)", lambda: prepare(ref, ws))
        analyze_file(mp3, AnalysisOptions())  # warm up the JIT
        stage_total += measure("analyze (warm)", lambda: analyze_file(mp3, AnalysisOptions()))
        out = ws / "out"
        tags = TrackTags(title="Track", artist="Bench", bpm=126.0, key="8A")
        for fmt in ("wav", "aiff", "m4a"):
            spec = recipes["formats"][fmt]
            recipe = FormatRecipe(name=fmt, **{**spec, "args": tuple(spec.get("args", ()))})
            stage_total += measure(f"convert {fmt} (ffmpeg + tags)",
                                   lambda r=recipe: convert(mp3, out / f"t.{r.extension}", r, tags))

        print("ffmpeg alone, same conversions:")
        floor = 0.0
        for fmt, extra in (("wav", ["-c:a", "pcm_s16le", "-ar", "44100", "-ac", "2"]),
                           ("aiff", ["-c:a", "pcm_s16be", "-ar", "44100", "-ac", "2"]),
                           ("m4a", ["-c:a", "aac", "-b:a", "256k", "-aac_coder", "fast", "-ar", "44100", "-ac", "2"])):
            floor += measure(f"ffmpeg {fmt}", lambda e=extra, f=fmt: run(
                [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(mp3), *e, str(out / f"f.{f}")]))

        print("summary (CPU seconds per track):")
        print(f"  cratefile whole run (fresh process) {full:7.2f}")
        print(f"  cratefile stages (warm worker)      {stage_total:7.2f}")
        print(f"  ffmpeg alone                        {floor:7.2f}")
        print(f"  overhead of stages over ffmpeg      {stage_total - floor:7.2f}  ({stage_total / floor:.2f}x)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
