"""No-op rerun cost: a built workspace rerun, next to plain doit on the same graph and a floor.

    python bench/noop.py [--tracks 500 5000 20000] [--formats wav aiff m4a] [--runs 5] [--keep DIR]

For each N: N tiny tracks (1.5 s WAV) in a folder playlist, built once with `cratefile -n 2`
into the formats asked. Then, each the median of --runs runs in a fresh process (CPU = user +
system, wall, peak RSS):
  - cratefile: a no-op rerun (checked: no task ran);
  - one changed track: one library file touched (a different track each run), so its
    conversion runs again; printed as the cost over the no-op;
  - plain doit: a dodo.py with the same task graph (fetch, N x download/analyze/convert per
    format, publish, the same file_dep/targets) on doit's defaults, built once, rerun as a no-op;
  - floor: bench/floor.py, a Python process that only stats every target of the workspace;
  - cratefile status on the same workspace.
Ratios are against the baselines measured in the same run. --keep DIR keeps the workspaces
there and reuses those already built (a 20,000-track first build takes a while).

Every measured process writes and reuses byte-compiled modules (under <root>/pycache), as an
installed package does: with PYTHONDONTWRITEBYTECODE set, each run would compile the whole
package again (~0.25 s) and that is not what a user's hourly run costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

DODO = '''
import json
from pathlib import Path
ROOT = Path(__file__).parent
KEYS = json.loads((ROOT / "keys.json").read_text())
FORMATS = json.loads((ROOT / "formats.json").read_text())
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
        for f in FORMATS:
            yield {"name": f"{k}:{f}", "actions": [(touch, [ROOT / f"p/{f}/{k}.{f}"])],
                   "file_dep": [str(ROOT / f"p/a/{k}.json"), str(ROOT / f"p/n/{k}.json")],
                   "targets": [str(ROOT / f"p/{f}/{k}.{f}")]}
def task_publish():
    return {"actions": [(touch, [ROOT / "p/list.m3u8"])],
            "file_dep": [str(ROOT / f"p/{f}/{k}.{f}") for k in KEYS for f in FORMATS],
            "targets": [str(ROOT / "p/list.m3u8")]}
'''

# Runs one command and prints its wall time, CPU (user + system) and peak RSS: a fresh wrapper
# process per measurement, so only that command and its own children count.
WRAPPER = ("import resource,subprocess,sys,time;t=time.perf_counter();"
           "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
           "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
           "print(w,u.ru_utime+u.ru_stime,u.ru_maxrss/1024,r.returncode)")


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



ENV: dict[str, str] = {}  # the measured processes' environment (main() fills it)


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """(CPU s, wall s, peak RSS MB) of one run of `argv`."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *argv], cwd=cwd, capture_output=True, text=True, check=True,
                         env=ENV or None)
    wall, cpu, rss, rc = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"{argv} exited {rc} in {cwd}")
    return float(cpu), float(wall), float(rss)


def median(samples: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    cpu, wall, rss = zip(*samples, strict=True)
    return statistics.median(cpu), statistics.median(wall), statistics.median(rss)


def line(label: str, m: tuple[float, float, float], extra: str = "") -> None:
    print(f"  {label:<22} {m[0]:7.2f} s CPU {m[1]:7.2f} s wall {m[2]:7.0f} MB   {extra}")


def cratefile_workspace(root: Path, n: int, formats: list[str]) -> Path:
    ws = root / f"cratefile-{n}-{'-'.join(formats)}"
    if (ws / ".built").exists():
        print(f"  (reusing the workspace built in {ws})")
        return ws
    music = ws / "music"
    music.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        tiny_wav(music / f"{i:05d} Bench - Track {i}.wav", i)
    (ws / "playlists.yaml").write_text(textwrap.dedent(f"""
        playlists:
          - {{name: Bench, folder: music, formats: [{', '.join(formats)}]}}
    """))
    t0 = time.perf_counter()
    build = subprocess.run([sys.executable, "-m", "cratefile.cli", "-n", "2"], cwd=ws,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    print(f"  first build {time.perf_counter() - t0:.0f} s wall (exit {build.returncode})")
    if build.returncode != 0:
        raise SystemExit(build.stderr[-2000:])
    (ws / ".built").touch()
    return ws


def doit_workspace(root: Path, n: int, formats: list[str]) -> Path:
    plain = root / f"doit-{n}-{'-'.join(formats)}"
    if not (plain / ".built").exists():
        plain.mkdir(parents=True, exist_ok=True)
        (plain / "keys.json").write_text(json.dumps([f"k{i}" for i in range(n)]))
        (plain / "formats.json").write_text(json.dumps(formats))
        (plain / "dodo.py").write_text(DODO)
        subprocess.run([sys.executable, "-m", "doit", "-n", "2", "-P", "thread"], cwd=plain,
                       stdout=subprocess.DEVNULL, check=True)
        (plain / ".built").touch()
    return plain


def tasks_executed(ws: Path) -> int:
    return int(json.loads((ws / "cache/reports/latest.json").read_text())["tasks_executed"])


def bench(root: Path, n: int, formats: list[str], runs: int) -> None:
    print(f"N={n} tracks x {', '.join(formats)}")
    ws = cratefile_workspace(root, n, formats)
    cratefile = [sys.executable, "-m", "cratefile.cli", "-n", "2"]
    measure(cratefile, ws)  # settles anything a previous build left unproven
    noop = []
    for _ in range(runs):
        noop.append(measure(cratefile, ws))
        if tasks_executed(ws):
            raise SystemExit(f"the no-op rerun ran {tasks_executed(ws)} tasks in {ws}")
    cf = median(noop)

    library = sorted((ws / "library" / formats[-1]).iterdir())
    changed = []
    for i in range(runs):
        victim = library[(i * 7919) % len(library)]
        st = victim.stat()
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        changed.append(measure(cratefile, ws))
    one = median(changed)

    plain = doit_workspace(root, n, formats)
    doit = [sys.executable, "-m", "doit", "-n", "2", "-P", "thread"]
    pd = median([measure(doit, plain) for _ in range(runs)])
    floor = median([measure([sys.executable, str(HERE / "floor.py"), str(ws)], ws) for _ in range(runs)])

    status = median([measure([*cratefile[:3], "status"], ws) for _ in range(runs)])

    print(f"  median of {runs} runs:")
    line("cratefile no-op", cf)
    line("plain doit no-op", pd, f"cratefile/doit: {cf[0] / pd[0]:.2f}x CPU, {cf[2] / pd[2]:.2f}x RSS")
    line("floor (stat targets)", floor, f"cratefile/floor: {cf[0] / floor[0]:.1f}x CPU")
    line("one changed track", one, f"+{one[0] - cf[0]:.2f} s CPU over the no-op (its {formats[-1]} made again)")
    line("cratefile status", status, f"status/no-op: {status[0] / cf[0]:.2f}x CPU")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--formats", nargs="+", default=["wav", "aiff", "m4a"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the workspaces in this folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        ENV.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        ENV.setdefault("PYTHONPYCACHEPREFIX", str(root.resolve() / "pycache"))
        for n in args.tracks:
            bench(root, n, args.formats, args.runs)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
