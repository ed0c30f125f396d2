"""Benchmark: mirror N new tracks into the fake Notion enforcing 3 requests/s, then rerun.

Prints wall time against the N/3 s floor (one create per track at Notion's average rate),
requests sent, 429s received; then the rerun with nothing changed: requests and time.
Not a test: `python bench/notion_sync.py [--tracks 500]` (500 tracks take about 3 minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cratefile.net import RateLimiter
from cratefile.sinks.notion.mirror import NotionMirror, NotionTrack, NotionTuning
from fakes.notion import FakeNotion


def make_tracks(n: int) -> list[NotionTrack]:
    return [
        NotionTrack(
            key=f"soundcloud {100000 + i}", source_url=f"https://soundcloud.com/artist-{i % 40}/track-{i}",
            title=f"Track {i}", artist=f"Artist {i % 40}", downloaded=True, bpm=118.0 + i % 12,
            key_name="Am", duration=240.0 + i % 120,
            paths=(("wav", f"/library/wav/Artist {i % 40} - Track {i}.wav"),
                   ("aiff", f"/library/aiff/Artist {i % 40} - Track {i}.aiff")),
            eagle_id=None, status=("built",), playlists=("Peak Time",), page_id=None,
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=3.0, help="requests/s the fake allows")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    tracks = make_tracks(args.tracks)
    with FakeNotion(rate_per_s=args.rate, burst=3) as fake:
        tuning = NotionTuning(workers=args.workers)
        limiter = RateLimiter(args.rate, burst=1)
        ids: dict[str, str] = {}
        with NotionMirror(fake.config(), limiter=limiter, tuning=tuning) as mirror:
            start = time.monotonic()
            mirror.check_schema()
            first = mirror.sync(tracks, on_page_id=ids.__setitem__)
            first_time = time.monotonic() - start
        got_429 = sum(r.status == 429 for r in fake.requests)
        pages = len(fake.live_pages())

        fake.clear_log()
        recorded = [dataclasses.replace(t, page_id=ids[t.key]) for t in tracks]
        with NotionMirror(fake.config(), limiter=limiter, tuning=tuning) as mirror:
            start = time.monotonic()
            mirror.check_schema()
            second = mirror.sync(recorded, on_page_id=ids.__setitem__)
            second_time = time.monotonic() - start
        rerun_requests = len(fake.requests)
        rerun_writes = len(fake.writes())

    floor = args.tracks / args.rate
    print(f"first sync of {args.tracks} new tracks at {args.rate:g} req/s, {args.workers} workers")
    print(f"  wall time     {first_time:8.1f} s   (floor {args.tracks}/{args.rate:g} = {floor:.1f} s, "
          f"{first_time / floor:.2f}x)")
    print(f"  requests      {first.requests + 2:8d}     (2 schema reads + {first.requests} sync: "
          f"{first.created} creates + queries)")
    print(f"  429 received  {got_429:8d}     retries {first.retries}")
    print(f"  pages         {pages:8d}     duplicates {pages - args.tracks}")
    print("rerun, nothing changed")
    print(f"  wall time     {second_time:8.1f} s")
    print(f"  requests      {rerun_requests:8d}     (writes {rerun_writes}; unchanged {second.unchanged})")


if __name__ == "__main__":
    main()
