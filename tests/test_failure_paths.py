"""Trouble in the environment is never a track's permanent failure (real signals, a real
size-limited tmpfs, a missing ffmpeg), and sources degrade per entry."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Workspace, make_track

MANIFEST = """
library: {library}
playlists:
  - name: Crate
    folder: music
    formats: [wav, aiff]
"""


def _tracks(ws: Workspace, n: int, seconds: float = 6.0) -> None:
    for i in range(n):
        make_track(ws.music / f"{i:02d} Artist {i} - Title {i}.wav", bpm=120 + i, seconds=seconds, seed=i)


def _cli(ws: Workspace, *args: str, env: dict[str, str] | None = None,
         timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cratefile.cli", *args], cwd=ws.root, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def _failed_rows(ws: Workspace) -> list[tuple]:
    catalog = ws.root / "cache" / "catalog.sqlite"
    if not catalog.exists():  # stopped by the preflight, before anything was recorded
        return []
    with contextlib.closing(sqlite3.connect(catalog)) as conn:
        return conn.execute("SELECT key, error_category, error_message FROM tracks WHERE status = 'failed'").fetchall()


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.slow
def test_ctrl_c_records_nothing_against_the_track_and_the_next_run_finishes(workspace: Workspace) -> None:
    _tracks(workspace, 6, seconds=20.0)
    workspace.manifest(MANIFEST.format(library="library"))
    # a terminal's Ctrl-C goes to the whole foreground process group
    proc = subprocess.Popen([sys.executable, "-m", "cratefile.cli", "-n", "2"], cwd=workspace.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    analysis = workspace.root / "cache" / "analysis"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (analysis.is_dir() and any(analysis.glob("*.json"))):
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert _failed_rows(workspace) == []  # nothing the interrupt killed counts as a failure
    again = _cli(workspace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(list((workspace.root / "library" / "wav").iterdir())) == 6
    assert len(list((workspace.root / "library" / "aiff").iterdir())) == 6


@pytest.mark.slow
def test_a_full_library_volume_stops_the_run_once_and_the_next_run_continues(workspace: Workspace) -> None:
    _tracks(workspace, 8, seconds=8.0)  # ~1.4 MB per WAV/AIFF: 8 tracks x 2 formats need ~22 MB
    with _tmpfs(workspace.root / "vol", "6m") as vol:
        workspace.manifest(MANIFEST.format(library=str(vol / "lib")))
        done = _cli(workspace)
        assert done.returncode == 74, done.stdout + done.stderr
        assert "is full" in done.stderr and "Traceback" not in done.stderr and "Logging error" not in done.stderr
        assert done.stderr.count("stopped:") == 1
        assert _failed_rows(workspace) == []  # a full disk is no track's failure
        report = workspace.report()
        assert "is full" in report["stopped"]
        # a rerun on the same full volume stops the same way, and still records nothing
        assert _cli(workspace).returncode == 74 and _failed_rows(workspace) == []
        subprocess.run(["mount", "-o", "remount,size=64m", str(vol)], check=True)
        done = _cli(workspace)
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(list((vol / "lib" / "wav").iterdir())) == 8
        assert len(list((vol / "lib" / "aiff").iterdir())) == 8


@pytest.mark.slow
def test_a_read_only_library_is_environment_trouble_not_a_bug(workspace: Workspace) -> None:
    _tracks(workspace, 2)
    with _tmpfs(workspace.root / "vol", "64m") as vol:
        workspace.manifest(MANIFEST.format(library=str(vol / "lib")))
        (vol / "lib").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(vol)], check=True)
        done = _cli(workspace)
        assert done.returncode == 74, done.stdout + done.stderr
        assert "read-only" in done.stderr and "bug" not in done.stderr and "Traceback" not in done.stderr
        assert _failed_rows(workspace) == []
        subprocess.run(["mount", "-o", "remount,rw", str(vol)], check=True)
        assert _cli(workspace).returncode == 0


def test_a_missing_ffmpeg_stops_the_run_and_nothing_is_held_back(workspace: Workspace) -> None:
    _tracks(workspace, 2, seconds=4.0)
    workspace.manifest(MANIFEST.format(library="library"))
    done = _cli(workspace, env={"CRATEFILE_FFMPEG": str(workspace.root / "no-such-ffmpeg")})
    assert done.returncode == 74, done.stdout + done.stderr
    assert "no-such-ffmpeg" in done.stderr and "Traceback" not in done.stderr
    assert _failed_rows(workspace) == []
    done = _cli(workspace)  # ffmpeg is back: a plain run builds everything
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list((workspace.root / "library" / "wav").iterdir())) == 2


def test_a_symlink_loop_fails_that_entry_alone(workspace: Workspace) -> None:
    _tracks(workspace, 2, seconds=4.0)
    os.symlink("loop-b.mp3", workspace.music / "loop-a.mp3")
    os.symlink("loop-a.mp3", workspace.music / "loop-b.mp3")
    workspace.manifest(MANIFEST.format(library="library"))
    rc, out, err = workspace.run()
    assert rc == 1, out + err
    (playlist,) = workspace.report()["playlists"]
    assert playlist["built_now"] == 2
    assert sorted(f["message"] for f in playlist["failed"]) == ["loop-a.mp3: a symbolic link loop",
                                                                "loop-b.mp3: a symbolic link loop"]
    assert {f["category"] for f in playlist["failed"]} == {"unreadable"}


def test_a_bad_file_replaced_by_good_audio_is_retried_at_once(workspace: Workspace) -> None:
    _tracks(workspace, 1, seconds=4.0)
    bad = workspace.music / "09 Late - Arrival.wav"
    bad.write_bytes(b"")
    workspace.manifest(MANIFEST.format(library="library"))
    rc, out, err = workspace.run()
    assert rc == 1 and [f["category"] for f in workspace.report()["playlists"][0]["failed"]] == ["unreadable"]
    rc, out, err = workspace.run()
    assert rc == 0 and len(workspace.report()["playlists"][0]["held_back"]) == 1  # waits for its cool-off
    make_track(bad, seconds=4.0)  # the file is replaced: its failure no longer holds
    rc, out, err = workspace.run()
    assert rc == 0, out + err
    assert sorted(p.name for p in (workspace.root / "library" / "wav").iterdir()) == [
        "Artist 0 - Title 0.wav", "Late - Arrival.wav"]  # and '09' is not part of the artist


def test_an_unplugged_drive_fails_its_playlist_alone_and_prune_keeps_its_files(workspace: Workspace) -> None:
    _tracks(workspace, 2, seconds=4.0)
    drive = workspace.root / "drive"
    make_track(drive / "Ext - One.wav", seconds=4.0)
    workspace.manifest("""
        playlists:
          - {name: Crate, folder: music, formats: [wav]}
          - {name: External, folder: drive, formats: [wav]}
        """)
    assert workspace.run()[0] == 0
    drive.rename(workspace.root / "drive-unplugged")
    rc, out, err = workspace.run("--refresh")
    assert rc == 1, out + err
    playlists = {p["name"]: p for p in workspace.report()["playlists"]}
    assert "folder not found" in playlists["External"]["fetch_error"]
    assert playlists["Crate"]["up_to_date"] == 2
    rc, out, err = workspace.run("prune")
    assert rc == 0, out + err
    assert (workspace.root / "library" / "wav" / "Ext - One.wav").is_file()
