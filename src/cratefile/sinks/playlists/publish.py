"""publish:<playlist> (the playlists sink's action) — per playlist, a folder of hard links per format
and an M3U8 in order.

Links are made under a temporary name and moved into place; where a hard link is impossible
(another file system, a file system without links) the file is copied. Files in the
playlist folder that are no longer in the playlist are removed: that folder is ours.
Tracks that are not built (yet) are left out and appear once built.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from cratefile.actions import action
from cratefile.atomic import atomic_target, read_json, write_json
from cratefile.context import RunContext
from cratefile.records import AnalysisResult, Sidecar, stem_of

Entry = tuple[str, str, str]  # (track key, file name in the playlist folder, library file)


def place(src: Path, dst: Path) -> None:
    """Hard-link (or copy) src to dst atomically, unless dst already is that file."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(src, dst):
            return
    with atomic_target(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)


def m3u8_text(lines: list[tuple[str, float | None, str]]) -> str:
    """lines: (display name, seconds, relative path)."""
    out = ["#EXTM3U"]
    for display, seconds, rel in lines:
        out.append(f"#EXTINF:{int(round(seconds)) if seconds else -1},{display}")
        out.append(rel)
    return "\n".join(out) + "\n"


@action("publish", scope="playlist")
def run_publish(ctx: RunContext, slug: str, folder: str, formats: dict[str, list[Entry]],
                states: dict[str, str]) -> None:
    """`states`: each format's digest of its entries and their files' (mtime_ns, size): a
    format whose digest is the one it was last published with, whose M3U8 is there and whose
    links all are, is left as it is (a touched M4A republishes the M4A folder, not the WAV)."""
    layout = ctx.layout
    base = layout.playlist_dir(folder)
    memo_path = layout.cache / "publish" / f"{slug}.json"
    memo = _Shown(read_json(memo_path))
    done_path = layout.cache / "publish" / f"{slug}.formats.json"
    found = read_json(done_path)
    done = dict(found) if isinstance(found, dict) else {}
    published = {fmt: state for fmt, state in done.items() if fmt not in formats}  # formats no longer asked
    for fmt, entries in formats.items():
        fmt_dir = base / fmt
        fmt_dir.mkdir(parents=True, exist_ok=True)
        linked = _Inodes(str(fmt_dir))
        state = states[fmt]
        if (done.get(fmt) == state and layout.m3u(folder, fmt).is_file()
                and all(name in linked.here for _, name, _ in entries)):
            published[fmt] = state
            continue
        wanted = set()
        lines = []
        for key, name, src in entries:
            if not linked.same(name, src):
                place(Path(src), fmt_dir / name)
            wanted.add(name)
            artist, title, seconds = memo.of(layout, key)
            display = " - ".join(x for x in (artist, title) if x) or Path(name).stem
            lines.append((display, seconds, f"{fmt}/{name}"))
        with os.scandir(fmt_dir) as found:  # no Path and no stat per entry: 20,000 of them
            stale = [e.path for e in found if e.name not in wanted and not e.name.startswith(".") and e.is_file()]
        for path in stale:
            os.unlink(path)
        with atomic_target(layout.m3u(folder, fmt)) as tmp:
            tmp.write_text(m3u8_text(lines), encoding="utf-8")
        published[fmt] = state
    if published != done:
        with contextlib.suppress(OSError):  # a memo only: every format is published again next time
            done_path.parent.mkdir(parents=True, exist_ok=True)
            write_json(done_path, published)
    if memo.changed:
        with contextlib.suppress(OSError):  # a memo only: read the JSON again next time
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            write_json(memo_path, memo.kept)


class _Inodes:
    """Whether a playlist folder's entry already is its library file, from directory listings
    (the inode numbers readdir gives, no stat per file): on one file system, equal numbers are
    one file. Anything else (another file system, a folder that cannot be listed, numbers
    readdir reports differently from stat, as overlayfs may) goes to `place`, which checks."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.here = self._listing(folder)
        self.dev = self._dev(folder)
        self.sources: dict[str, tuple[int | None, dict[str, int]]] = {}  # folder -> (st_dev, name -> inode)

    def same(self, name: str, src: str) -> bool:
        mine = self.here.get(name)
        if mine is None or self.dev is None:
            return False
        where, _, src_name = src.rpartition("/")
        known = self.sources.get(where)
        if known is None:
            known = self.sources[where] = (self._dev(where), self._listing(where))
        dev, inodes = known
        return dev == self.dev and inodes.get(src_name) == mine

    @staticmethod
    def _listing(folder: str) -> dict[str, int]:
        try:
            with os.scandir(folder) as found:
                return {e.name: e.inode() for e in found}
        except OSError:
            return {}

    @staticmethod
    def _dev(folder: str) -> int | None:
        try:
            return os.stat(folder).st_dev
        except OSError:
            return None


Shown = tuple[str | None, str | None, float | None]  # (artist, title, seconds) of an M3U8 line


class _Shown:
    """Each track's M3U8 line facts, read from its sidecar and analysis JSON and remembered in
    cache/publish/<slug>.json with both files' (inode, mtime_ns, size): a playlist of 20,000
    tracks is published again when one of them changed, and reading 40,000 JSON files for the
    other lines cost seconds. A file replaced (as every cache write is) or edited shows."""

    def __init__(self, data: Any) -> None:
        self.known: dict[str, Any] = data if isinstance(data, dict) else {}
        self.kept: dict[str, Any] = {}
        self.changed = False
        self._folders: tuple[str, str] | None = None

    def of(self, layout: Any, key: str) -> Shown:
        found = self.kept.get(key)
        if found is not None:
            return found[2], found[3], found[4]
        if self._folders is None:  # str paths as layout.sidecar/analysis give them: no Path per track
            self._folders = (f"{layout.audio}{os.sep}", f"{layout.analyses}{os.sep}")
        stem = stem_of(key)
        sidecar_path, analysis_path = f"{self._folders[0]}{stem}.json", f"{self._folders[1]}{stem}.json"
        sigs = [_sig(sidecar_path), _sig(analysis_path)]
        old = self.known.get(key)
        if isinstance(old, list) and len(old) == 5 and old[:2] == sigs and None not in sigs:
            self.kept[key] = old
            return old[2], old[3], old[4]
        analysis = AnalysisResult.from_json(read_json(Path(analysis_path))) or AnalysisResult()
        sidecar = Sidecar.from_json(read_json(Path(sidecar_path)))
        artist, title = (sidecar.artist, sidecar.title) if sidecar else (None, None)
        seconds = analysis.duration or (sidecar.duration if sidecar else None)
        self.kept[key] = [*sigs, artist, title, seconds]
        self.changed = True
        return artist, title, seconds


def _sig(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]
