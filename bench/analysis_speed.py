"""CPU seconds and peak memory to analyse one 5-minute track: a warm AnalyzerPool worker, a
fresh process per track, and librosa's default recipe (fresh and warm), in the same run.

    python bench/analysis_speed.py [--seconds 300] [--format mp3|wav|both] [--repeat 3]

CPU counts ffmpeg too (it runs as a child of whoever decodes). Peak RSS is the process's high
water mark (VmHWM): for the fresh processes it includes the interpreter and imports.
Targets (issue 5): <= 1.5 s CPU per 5-minute track warm, <= 250 MB peak per worker.

The same run also times ffmpeg alone, best of `--repeat`: only decoding the file (to null),
and the whole ffmpeg run the analysis makes (decode, loudness, downmix, resample), each on the
plain command line and with the file decoded inside the filter graph, which the analysis uses
(cratefile.graphinput; the command line is its fallback for damaged files). The machine's speed
varies by 2x from hour to hour, so the whole is also printed as a ratio to the command-line
decode of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cratefile.proc import ffmpeg_exe, run
from cratefile.records import AnalysisOptions
from cratefile.synth import render

_TICK = os.sysconf("SC_CLK_TCK")


def _self_and_children_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def child(mode: str, path: Path, repeat: int) -> None:
    """Run inside a fresh interpreter: analyse `path` `repeat` times, print JSON."""
    per_call = []
    for _ in range(repeat):
        start = _self_and_children_cpu()
        if mode == "ours":
            from cratefile.analysis import analyze_file

            analyze_file(path, AnalysisOptions())
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            from accuracy import librosa_default

            librosa_default(path)
        per_call.append(_self_and_children_cpu() - start)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork + exec from the parent.
    maxrss_mb = _proc_hwm_mb(os.getpid())
    print(json.dumps({"total_cpu": _self_and_children_cpu(), "per_call": per_call, "maxrss_mb": maxrss_mb}))


def fresh(mode: str, path: Path, repeat: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), "--repeat", str(repeat)],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _proc_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process (children it has waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / _TICK


def _proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _ffmpeg_cpu(argv: list[str], repeat: int) -> float:
    """Best CPU seconds (user + system) of `repeat` runs of an ffmpeg command."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return best


def decode_floors(path: Path, repeat: int) -> dict[str, float]:
    """CPU seconds of ffmpeg alone on `path`: decoding to null and the analysis's own run, each
    on the plain command line and with the file decoded inside the filter graph (what the
    analysis uses; cratefile.graphinput)."""
    from cratefile import graphinput
    from cratefile.analysis.decode import ANALYSIS_SR, decode_argv, graph_decode_argv

    with tempfile.TemporaryDirectory(prefix="cratefile-floor-") as tmp:
        work = Path(tmp)
        name = graphinput.link(path, work)
        if name is None:
            raise SystemExit(f"cannot make a symlink in {work}")
        null = ["-f", "null", "-"]
        return {
            "bare": _ffmpeg_cpu([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), *null], repeat),
            "bare_graph": _ffmpeg_cpu([ffmpeg_exe(), "-nostdin", "-v", "error",
                                       *graphinput.input_argv(str(work / name)), *null], repeat),
            "cli_run": _ffmpeg_cpu(decode_argv(path, ANALYSIS_SR, work / "out.s16"), repeat),
            "graph_run": _ffmpeg_cpu(graph_decode_argv(str(work / name), ANALYSIS_SR, str(work / "g.s16")), repeat),
        }


def warm_worker(path: Path, repeat: int) -> tuple[float, float, float]:
    """(startup CPU incl. warm-up, mean CPU per track, peak RSS MB) of one pool worker."""
    from cratefile.analysis import AnalyzerPool

    with AnalyzerPool(workers=1) as pool:
        (pid,) = pool.pids
        pool.analyze(path, AnalysisOptions())  # waits for the warm-up, then one track
        first = _proc_cpu(pid)
        start = time.monotonic()
        for _ in range(repeat):
            pool.analyze(path, AnalysisOptions())
        per_track = (_proc_cpu(pid) - first) / repeat
        wall = (time.monotonic() - start) / repeat
        hwm = _proc_hwm_mb(pid)
    print(f"    (warm worker wall time per track: {wall:.2f} s)")
    return first - per_track, per_track, hwm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--format", choices=("mp3", "wav", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-librosa", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.path, args.repeat)
        return 0

    with tempfile.TemporaryDirectory(prefix="cratefile-speed-") as tmp:
        wav = Path(tmp) / "track.wav"
        render(wav, bpm=126.0, key="F#m", seconds=args.seconds, style="four_on_floor_breakdown", seed=1)
        files = []
        if args.format in ("wav", "both"):
            files.append(wav)
        if args.format in ("mp3", "both"):
            mp3 = Path(tmp) / "track.mp3"
            encode = ["-c:a", "libmp3lame", "-b:a", "320k"]
            run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(wav), *encode, str(mp3)])
            files.append(mp3)
        minutes = args.seconds / 60.0
        scale = 5.0 / minutes  # report per 5-minute track
        for path in files:
            print(f"\n{path.suffix[1:].upper()}, {args.seconds:g} s of 44.1 kHz stereo "
                  f"({path.stat().st_size / 1e6:.1f} MB); figures per 5-minute track")
            print(f"  {'':36s} {'CPU s':>7s} {'peak RSS MB':>12s}")
            startup, per_track, hwm = warm_worker(path, args.repeat)
            print(f"  {'cratefile, warm worker':36s} {per_track * scale:7.2f} {hwm:12.0f}")
            floors = decode_floors(path, args.repeat)
            print(f"  {'  ffmpeg decode alone, command line':36s} {floors['bare'] * scale:7.2f}")
            print(f"  {'  ffmpeg decode alone, in the graph':36s} {floors['bare_graph'] * scale:7.2f}")
            print(f"  {'  analysis ffmpeg run (graph, used)':36s} {floors['graph_run'] * scale:7.2f}")
            print(f"  {'  same on the command line':36s} {floors['cli_run'] * scale:7.2f}"
                  f"   (the fallback for damaged files)")
            beyond = per_track - floors["graph_run"]
            print(f"  {'  analysis beyond its ffmpeg run':36s} {beyond * scale:7.2f}"
                  f"   (whole: {per_track / floors['bare']:.2f}x the command-line decode)")
            print(f"  {'  (worker start-up and warm-up, once)':36s} {startup:7.2f}")
            ours = fresh("ours", path, 1)
            print(f"  {'cratefile, fresh process':36s} {ours['total_cpu'] * scale:7.2f} {ours['maxrss_mb']:12.0f}")
            if not args.no_librosa:
                lib = fresh("librosa", path, 2)
                first = lib["total_cpu"] - lib["per_call"][1]
                print(f"  {'librosa default, fresh process':36s} {first * scale:7.2f} {lib['maxrss_mb']:12.0f}")
                print(f"  {'librosa default, warm (2nd call)':36s} {lib['per_call'][1] * scale:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
