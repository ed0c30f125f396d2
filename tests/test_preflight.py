"""Preflight: `cratefile check`, the checks every build runs first, and `cratefile --dry-run`."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from conftest import Workspace, make_track
from cratefile import preflight
from cratefile.manifest import load_manifest
from fakes.eagle import FakeEagle


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _crate(ws: Workspace, extra: str = "", library: str = "library") -> None:
    make_track(ws.music / "Ann - Alpha.wav", seconds=4.0)
    make_track(ws.music / "Bob - Beta.wav", seconds=4.0, seed=1)
    ws.manifest(f"library: {library}\nplaylists:\n  - {{name: Crate, folder: music, formats: [wav, aiff]}}\n{extra}")


def test_dry_run_says_what_would_be_built_and_changes_nothing(workspace: Workspace) -> None:
    _crate(workspace)
    rc, out, err = workspace.run("--dry-run")
    assert rc == 0, out + err
    assert out.splitlines()[0].startswith("Crate: 2 tracks; download 2, analyze 2, convert 2 wav, 2 aiff; about ")
    assert "dry run: nothing changed" in out
    assert not (workspace.root / "cache").exists() and not (workspace.root / "library").exists()
    assert workspace.run()[0] == 0
    rc, out, err = workspace.run("--dry-run")
    assert out.splitlines()[0] == ("Crate: 2 tracks; download 0, analyze 0, convert nothing; about 0 MB in the "
                                   "library, 0 MB of downloads, 0.0 min")
    (next((workspace.root / "library" / "aiff").iterdir())).unlink()
    rc, out, err = workspace.run("--dry-run")
    assert "convert 1 aiff" in out


def test_bytes_per_second_follows_the_recipes(tmp_path: Path) -> None:
    (tmp_path / "playlists.yaml").write_text("playlists: [{name: A, url: 'https://soundcloud.com/a/sets/b'}]\n")
    formats = load_manifest(tmp_path / "playlists.yaml", env={}).formats
    assert preflight.bytes_per_second(formats["wav"]) == 44100 * 2 * 2
    assert preflight.bytes_per_second(formats["m4a"]) == 256_000 / 8


def test_check_reports_each_service_and_fails_when_one_is_down(workspace: Workspace, tmp_path: Path) -> None:
    with FakeEagle(tmp_path / "Music.library") as eagle:
        _crate(workspace, f"eagle: {{api_url: {eagle.url}, formats: [wav]}}\n")
        rc, out, err = workspace.run("check")
        assert rc == 0, out + err
        assert "ok    ffmpeg:" in out and "ok    eagle: Eagle" in out and "writable" in out
    _crate(workspace, f"eagle: {{api_url: 'http://127.0.0.1:{_closed_port()}', formats: [wav]}}\n")
    rc, out, err = workspace.run("check")
    assert rc == 1
    assert [line for line in out.splitlines() if line.startswith("FAIL")][0].startswith("FAIL  eagle: ")


def test_a_missing_ffmpeg_is_a_failed_check(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _crate(workspace)
    monkeypatch.setenv("CRATEFILE_FFMPEG", str(workspace.root / "nope"))
    preflight_ffmpeg = __import__("cratefile.proc", fromlist=["ffmpeg_exe"]).ffmpeg_exe
    preflight_ffmpeg.cache_clear()  # the env var is read once per process
    try:
        rc, out, err = workspace.run("check")
    finally:
        monkeypatch.delenv("CRATEFILE_FFMPEG")
        preflight_ffmpeg.cache_clear()
    assert rc == 74
    assert out.startswith("FAIL  ffmpeg: nope cannot be run")


@pytest.mark.slow
def test_a_volume_too_small_for_the_run_stops_it_before_any_work(workspace: Workspace) -> None:
    vol = workspace.root / "small"
    vol.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(vol)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        _crate(workspace, library=str(vol / "lib"))
        rc, out, err = workspace.run("fetch")  # the playlist is known (and its durations)...
        assert rc == 0, out + err
        rc, out, err = workspace.run()  # ...so the build knows it cannot fit before it starts
        assert rc == 74, out + err
        assert "too small for this run" in err and "MB more, then run again" in err
        assert not (workspace.root / "cache" / "audio").exists()  # nothing was started
        assert not (vol / "lib" / "wav").exists()
    finally:
        subprocess.run(["umount", "-l", str(vol)], capture_output=True)
