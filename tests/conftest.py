"""Shared fixtures: generated audio and throwaway workspaces. Nothing touches the repo's cache/."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cratefile.proc import ffmpeg_exe, run


def make_track(path: Path, *, bpm: float = 124.0, key: str = "Am", seconds: float = 12.0, title: str | None = None,
               artist: str | None = None, seed: int = 0) -> Path:
    """A short synthetic track with known tempo and key; encoded by extension, tagged if asked."""
    from cratefile.synth import render

    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_name(f".{path.stem}.src.wav")
    render(wav, bpm=bpm, key=key, seconds=seconds, seed=seed)
    meta = []
    if title:
        meta += ["-metadata", f"title={title}"]
    if artist:
        meta += ["-metadata", f"artist={artist}"]
    if path.suffix == ".wav" and not meta:
        os.replace(wav, path)
        return path
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(wav), *meta, str(path)])
    wav.unlink()
    return path


class Workspace:
    """A workspace folder with a playlists.yaml; `run()` calls the real CLI in-process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.music = root / "music"
        self.music.mkdir(parents=True, exist_ok=True)

    def manifest(self, text: str) -> None:
        (self.root / "playlists.yaml").write_text(textwrap.dedent(text), encoding="utf-8")

    def run(self, *args: str) -> tuple[int, str, str]:
        from cratefile.cli import main

        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(list(args))
        finally:
            os.chdir(cwd)
        return rc, out.getvalue(), err.getvalue()

    def report(self) -> dict[str, Any]:
        return json.loads((self.root / "cache" / "reports" / "latest.json").read_text())

    def catalog_rows(self, sql: str) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.root / "cache" / "catalog.sqlite")) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    yield Workspace(tmp_path / "ws")


@pytest.fixture
def fresh_soundcloud_auth() -> Iterator[None]:
    """SoundcloudBaseIE._HEADERS is process-wide: no test may see another's SoundCloud login."""
    from cratefile.sources import ytdlp

    ytdlp.reset_soundcloud_auth()
    yield
    ytdlp.reset_soundcloud_auth()


@pytest.fixture
def soundcloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fake SoundCloud (tests/fakes/soundcloud.py) that every yt-dlp request of the test goes
    to (CRATEFILE_YTDLP_LOOPBACK), with no SoundCloud login left behind for the next test."""
    from cratefile.sources import ytdlp
    from fakes.soundcloud import FakeSoundCloud

    ytdlp.reset_soundcloud_auth()
    with FakeSoundCloud() as fake:
        monkeypatch.setenv("CRATEFILE_YTDLP_LOOPBACK", fake.base_url)
        yield fake
    ytdlp.reset_soundcloud_auth()


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_exe()
