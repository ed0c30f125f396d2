"""A first build of a big SoundCloud set on the fake SoundCloud: does memory stay flat?

    python bench/soundcloud_set.py [--tracks 100 500] [--seconds 2] [-n 4]

For each size: a fresh workspace with one set of N tracks (api-v2 stubs beyond the first five,
as the real API lists them), built once with `cratefile -n 4` in a child process under a
generous request budget. Prints wall time, CPU (user+sys of the child and its ffmpeg
children), peak RSS of the cratefile process, and the per-track figures; then the ratio of the
peak RSS of the largest size to the smallest. Flat memory means that ratio stays near 1: what
grows with N is only the tracks' records (snapshot, doit's task list, the catalog), not the
audio or the per-track work. Also: when the first library file appeared, and how many tracks
had been downloaded by then (files appear as tracks finish, not after every download).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.soundcloud import FakeSoundCloud  # noqa: E402


def build(n: int, seconds: float, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-scset-") as tmp, FakeSoundCloud() as fake:
        root = Path(tmp)
        for i in range(1, n + 1):
            fake.add_track(i, f"Tune {i:04d}", f"Artist {i % 37:02d}", seconds)
        set_url = fake.add_set("Big Label", f"set-{n}", range(1, n + 1))
        (root / "playlists.yaml").write_text(textwrap.dedent(f"""
            formats: [wav]
            download: {{soundcloud_api_budget: {{requests: 100000, seconds: 1}}}}
            playlists:
              - name: Big
                url: {set_url}
            """))
        env = {**os.environ, "CRATEFILE_YTDLP_LOOPBACK": fake.base_url}
        first: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:  # the first file under library/wav, and the downloads made by then
            wav, audio = root / "library" / "wav", root / "cache" / "audio"
            while not done.wait(0.05):
                if wav.is_dir() and any(not e.name.startswith(".") for e in os.scandir(wav)):
                    first["at"] = time.perf_counter() - started
                    first["downloaded"] = sum(1 for e in os.scandir(audio) if e.name.endswith(".json"))
                    return

        started = time.perf_counter()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        proc = subprocess.Popen([sys.executable, "-m", "cratefile.cli", "-n", str(workers)], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        watcher.join()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the build of {n} tracks failed: {proc.stderr.read().decode()[-2000:]}")
        built = len(list((root / "library" / "wav").glob("*.wav")))
        if built != n:
            raise SystemExit(f"{built} of {n} tracks built")
        grand = resource.getrusage(resource.RUSAGE_CHILDREN)  # includes ffmpeg, the analysis workers
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                "children_cpu": grand.ru_utime + grand.ru_stime, "first_s": first.get("at", wall),
                "first_downloaded": first.get("downloaded", n)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each generated track")
    parser.add_argument("-n", type=int, default=4, help="doit workers")
    args = parser.parse_args(argv)
    print(f"{'tracks':>7} {'wall s':>8} {'cpu s':>7} {'peak MB':>8} {'ms/track':>9} {'cpu ms/track':>13} "
          f"{'first file s':>13} {'downloaded then':>16}")
    rows = []
    for n in args.tracks:
        r = build(n, args.seconds, args.n)
        rows.append((n, r))
        print(f"{n:>7} {r['wall']:>8.1f} {r['cpu']:>7.1f} {r['rss_mb']:>8.1f} {1000 * r['wall'] / n:>9.1f} "
              f"{1000 * r['cpu'] / n:>13.1f} {r['first_s']:>13.1f} {r['first_downloaded']:>16.0f}")
    (small, a), (big, b) = rows[0], rows[-1]
    print(f"peak RSS {big} vs {small} tracks: {b['rss_mb'] / a['rss_mb']:.2f}x "
          f"(+{b['rss_mb'] - a['rss_mb']:.1f} MB for {big - small} more tracks, "
          f"{1024 * (b['rss_mb'] - a['rss_mb']) / max(1, big - small):.1f} kB per track)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
