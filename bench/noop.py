"""No-op rerun cost: a workspace of N already-built tracks, next to plain doit on the same graph.

    python bench/noop.py [--tracks 500 5000]

For each N: generate N tiny tracks (1.5 s WAV) in a folder playlist, build them once with
`cratefile -n 2` (formats: wav), then time a no-op rerun of `cratefile` (wall, CPU, peak RSS of
the process). Baseline in the same run: a plain dodo.py with the same task graph (fetch,
N x download/analyze/convert, publish, with the same file_dep/targets) on doit's defaults
(MD5 checker, end-of-run DB), built once and rerun as a no-op.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import wave
from pathlib import Path

import numpy as np

DODO = '''
import json
from pathlib import Path
ROOT = Path(__file__).parent
KEYS = json.loads((ROOT / "keys.json").read_text())
DOIT_CONFIG = {"backend": "sqlite3", "dep_file": str(ROOT / "plain.sqlite"), "verbosity": 0,
               "default_tasks": ["fetch", "download", "analyze", "convert", "publish"]}
def touch(path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("x")
def task_fetch():
    return {"actions": [(touch, [ROOT / "p/snap.json"])], "targets": [str(ROOT / "p/snap.json")], "uptodate": [True]}
def task_download():
    for k in KEYS:
        yield {"name": k, "actions": [(touch, [ROOT / f"p/a/{k}.json"])], "file_dep": [str(ROOT / "p/snap.json")],
               "targets": [str(ROOT / f"p/a/{k}.json")]}
def task_analyze():
    for k in KEYS:
        yield {"name": k, "actions": [(touch, [ROOT / f"p/n/{k}.json"])], "file_dep": [str(ROOT / f"p/a/{k}.json")],
               "targets": [str(ROOT / f"p/n/{k}.json")]}
def task_convert():
    for k in KEYS:
        yield {"name": k, "actions": [(touch, [ROOT / f"p/w/{k}.wav"])],
               "file_dep": [str(ROOT / f"p/a/{k}.json"), str(ROOT / f"p/n/{k}.json")],
               "targets": [str(ROOT / f"p/w/{k}.wav")]}
def task_publish():
    return {"actions": [(touch, [ROOT / "p/list.m3u8"])], "file_dep": [str(ROOT / f"p/w/{k}.wav") for k in KEYS],
            "targets": [str(ROOT / "p/list.m3u8")]}
'''


def tiny_wav(path: Path, i: int) -> None:
    """1.5 s at 8 kHz: a tone with clicks at 120 BPM (analysis refuses silence and < 1 s)."""
    sr = 8000
    t = np.arange(int(1.5 * sr)) / sr
    signal = 0.2 * np.sin(2 * np.pi * (220 + i % 400) * t)
    for beat in range(3):
        start = int(beat * 0.5 * sr)
        signal[start:start + 80] += np.hanning(160)[80:] * 0.7
    tone = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone.tobytes())


def timed(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """wall s, CPU s of the child, exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0,):
        sys.stderr.write(proc.stderr.decode()[-2000:])
    return wall, cpu, proc.returncode


def peak_rss(argv: list[str], cwd: Path) -> float:
    """Peak RSS in MB of one run, measured by a wrapper process so earlier children don't count."""
    code = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,"
            "stderr=subprocess.DEVNULL);print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def bench(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        music = ws / "music"
        music.mkdir()
        for i in range(n):
            tiny_wav(music / f"{i:05d} Bench - Track {i}.wav", i)
        (ws / "playlists.yaml").write_text(textwrap.dedent("""
            playlists:
              - {name: Bench, folder: music, formats: [wav]}
        """))
        cratefile = [sys.executable, "-m", "cratefile.cli", "-n", "2"]
        t0 = time.perf_counter()
        build = subprocess.run(cratefile, cwd=ws, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        print(f"N={n}: first build {time.perf_counter() - t0:.1f} s (exit {build.returncode})")
        wall, cpu, rc = timed(cratefile, ws)
        rss = peak_rss(cratefile, ws)
        print(f"  cratefile no-op rerun: {wall:6.2f} s wall {cpu:6.2f} s CPU  peak {rss:6.0f} MB  (exit {rc})")

        plain = ws / "plain"
        plain.mkdir()
        (plain / "keys.json").write_text(__import__("json").dumps([f"k{i}" for i in range(n)]))
        (plain / "dodo.py").write_text(DODO)
        doit = [sys.executable, "-m", "doit", "-n", "2", "-P", "thread"]
        subprocess.run(doit, cwd=plain, stdout=subprocess.DEVNULL, check=True)
        wall, cpu, rc = timed(doit, plain)
        rss = peak_rss(doit, plain)
        print(f"  plain doit no-op rerun: {wall:6.2f} s wall {cpu:6.2f} s CPU  peak {rss:6.0f} MB  (exit {rc})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, nargs="+", default=[500, 5000])
    args = ap.parse_args()
    for n in args.tracks:
        bench(n)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
