"""The original headline requirement: a 500-track SoundCloud set (api-v2 lists the first five in
full, the rest as stubs), built end to end at -n 4 under SoundCloud's request budget (the fake
refuses a burst with 429 + Retry-After: cratefile never makes it), killed with SIGKILL half way
through and resumed without downloading a finished track again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import Workspace
from fakes.soundcloud import MEDIA, FakeSoundCloud

TRACKS = 500


def downloaded_ids(fake: FakeSoundCloud) -> list[int]:
    """The tracks whose media the fake served, in order (one progressive MP3 per download)."""
    by_secret = {t.secret: t.id for t in fake.tracks.values()}
    out = []
    for hit in fake.requests:
        m = re.search(r"/([0-9a-f]{12})(?:\.128\.mp3)?(?:/|$)", hit.path) if hit.host == MEDIA else None
        if m and m[1] in by_secret and hit.status == 200:
            out.append(by_secret[m[1]])
    return out


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_500_track_set_builds_under_the_budget_and_resumes_after_kill_9(
        workspace: Workspace, soundcloud: FakeSoundCloud) -> None:
    fake = soundcloud
    fake.api_budget = (130, 2.0)  # the fake refuses more than 130 API requests in any 2 s; cratefile is told 110
    for i in range(1, TRACKS + 1):
        fake.add_track(i, f"Tune {i:03d}", f"Artist {i % 37:02d}", 2)
    set_url = fake.add_set("Big Label", "the-500", range(1, TRACKS + 1))
    workspace.manifest(f"""
        formats: [wav]
        download: {{soundcloud_api_budget: {{requests: 110, seconds: 2}}}}
        playlists:
          - name: The 500
            url: {set_url}
    """)
    audio = workspace.root / "cache" / "audio"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cratefile.cli", "-n", "4"], cwd=workspace.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def sidecars() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in audio.glob("soundcloud-*.json")} if audio.is_dir() else {}

    deadline = time.monotonic() + 600
    while len(sidecars()) < TRACKS // 2:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "half the set was not downloaded in 10 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sidecars()
    assert TRACKS // 2 <= len(done) < TRACKS, "the build finished before it could be killed"
    first = downloaded_ids(fake)
    fake.reset_counts()

    rc, out, err = workspace.run("-n", "4")
    assert rc == 0, (out + err)[-3000:]
    report = workspace.report()["playlists"][0]
    assert report["total"] == TRACKS and report["built_now"] + report["up_to_date"] == TRACKS
    assert len(list((workspace.root / "library" / "wav").glob("*.wav"))) == TRACKS
    again = downloaded_ids(fake)
    finished = {int(name.split("-")[1].split(".")[0]) for name in done}
    assert not finished & set(again), "a track downloaded before the kill was downloaded again"
    assert len(again) == TRACKS - len(finished)  # each unfinished track exactly once
    assert len(set(first)) >= len(finished)
    for name, mtime in done.items():  # a finished download is left as it was
        assert (audio / name).stat().st_mtime_ns == mtime
    assert fake.budget_refusals == 0  # never one 429 from the budget, in either run
