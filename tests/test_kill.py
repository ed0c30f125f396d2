"""kill -9 in the middle of a build, then rerun: nothing truncated, nothing duplicated, finished
work kept (doit's DB is committed about every second)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import pytest

from conftest import Workspace, make_track


@pytest.mark.slow
def test_kill_9_then_rerun_resumes(workspace: Workspace) -> None:
    n = 16
    for i in range(n):
        make_track(workspace.music / f"{i:02d} t.wav", bpm=100 + 3 * i, key="Am", seconds=45, seed=i)
    workspace.manifest("""
        playlists:
          - name: Big
            folder: music
            formats: [wav, aiff, m4a]
    """)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cratefile.cli", "-n", "2"], cwd=workspace.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lib = workspace.root / "library"

    def finished() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in lib.glob("*/[!.]*") if p.is_file()}

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until some work finished more than 1.5 s ago
        old = [p for p, m in finished().items() if p.suffix == ".m4a" and m < time.time_ns() - 1.5e9]
        if len(old) >= 2:
            break
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        time.sleep(0.1)
    before = finished()
    settled = {p: m for p, m in before.items() if m < time.time_ns() - 1.5e9}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(before) < 3 * n, "the build finished before it could be killed"

    for path in before:  # no truncated file under a real name
        audio = mutagen.File(path)
        assert audio is not None and abs(audio.info.length - 45) < 0.5, path

    rc, out, err = workspace.run()
    assert rc == 0, out + err
    report = workspace.report()
    assert report["playlists"][0]["total"] == n
    assert report["playlists"][0]["built_now"] + report["playlists"][0]["up_to_date"] == n
    for path, mtime in settled.items():  # finished work is not redone
        assert path.stat().st_mtime_ns == mtime, path
    assert workspace.catalog_rows("SELECT count(*), count(DISTINCT key) FROM tracks") == [(n, n)]
    assert workspace.catalog_rows("SELECT count(*) FROM files") == [(3 * n,)]
    assert len(list((lib / "m4a").glob("*.m4a"))) == n


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_reports(workspace: Workspace) -> None:
    for i in range(6):
        make_track(workspace.music / f"{i:02d} t.wav", bpm=120 + i, key="Am", seconds=30, seed=i)
    workspace.manifest("""
        playlists:
          - name: Term
            folder: music
            formats: [wav, m4a]
    """)
    proc = subprocess.Popen([sys.executable, "-m", "cratefile.cli"], cwd=workspace.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lib = workspace.root / "library"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(lib.glob("m4a/[!.]*.m4a")):
        assert proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out + err).decode()
    assert b"interrupted" in err
    assert workspace.report()["interrupted"] is True
    rc, out2, err2 = workspace.run()
    assert rc == 0, out2 + err2
    assert len(list(lib.glob("m4a/[!.]*.m4a"))) == 6
