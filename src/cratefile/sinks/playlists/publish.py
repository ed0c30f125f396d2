"""publish:<playlist> (the playlists sink's action) — per playlist, a folder of hard links per format
and an M3U8 in order.

Links are made under a temporary name and moved into place; where a hard link is impossible
(another file system, a file system without links) the file is copied. Files in the
playlist folder that are no longer in the playlist are removed: that folder is ours.
Tracks that are not built (yet) are left out and appear once built.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cratefile.actions import action
from cratefile.atomic import atomic_target, file_sig, read_json, write_json
from cratefile.context import RunContext
from cratefile.records import AnalysisResult, Sidecar, stem_of

Entry = tuple[str, str, str]  # (track key, file name in the playlist folder, library file)
Sig = tuple[int, int] | None  # (mtime_ns, size); None: no such file


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
                states: dict[str, str], known: Mapping[str, tuple[Sig, Sig]]) -> None:
    """`states`: each format's digest of its entries and their files' (mtime_ns, size): a
    format whose digest is the one it was last published with, whose M3U8 is as it was written
    and whose links all are there, is left as it is (a touched M4A republishes the M4A folder,
    not the WAV). `known`: track key -> (mtime_ns, size) of its sidecar and analysis JSON, as
    the run found them (BuildView.state_sigs), not stat-ed again.

    A format that is published again gets its links checked, each one, but keeps its M3U8 when
    the same entries are listed in the same order and no track's sidecar or analysis changed
    since it was written (a re-encoded file changes no line): the M3U8's lines need those two
    JSON files of every track, 40,000 reads or stats in a 20,000-track playlist."""
    layout = ctx.layout
    base = layout.playlist_dir(folder)
    memo: _Shown | None = None
    done_path = layout.cache / "publish" / f"{slug}.formats.json"
    done = published_records(layout, slug)
    published = {fmt: rec for fmt, rec in done.items() if fmt not in formats}  # formats no longer asked
    facts_of = _Facts(layout, known)
    for fmt, entries in formats.items():
        fmt_dir = base / fmt
        fmt_dir.mkdir(parents=True, exist_ok=True)
        linked = _Inodes(str(fmt_dir))
        m3u = layout.m3u(folder, fmt)
        record = done.get(fmt, {})
        m3u_as_written = file_sig(m3u) == _listed(record.get("m3u"))
        if record.get("state") == states[fmt] and m3u_as_written:
            if unchanged_since(str(fmt_dir), record):
                published[fmt] = record
                continue
            before = _dir_sig(str(fmt_dir))  # taken before the listing: a change during it shows next time
            if all(name in linked.here for _, name, _ in entries):  # listed: the folder vouches from now on
                published[fmt] = {**record, "dir": before}
                continue
        wanted = set()
        for _key, name, src in entries:
            if not linked.same(name, src):
                place(Path(src), fmt_dir / name)
            wanted.add(name)
        # what was there before and is not wanted (the listing made above: no second one)
        stale = [os.path.join(fmt_dir, n) for n in linked.here if n not in wanted and not n.startswith(".")]
        for path in stale:
            if os.path.isfile(path):
                os.unlink(path)
        shape, facts = _digest(entries), facts_of.digest(entries)
        if not (record.get("shape") == shape and record.get("facts") == facts and m3u_as_written):
            memo = memo or _Shown(read_json(layout.cache / "publish" / f"{slug}.json"), facts_of)
            lines = []
            for key, name, _src in entries:
                artist, title, seconds = memo.of(key)
                display = " - ".join(x for x in (artist, title) if x) or Path(name).stem
                lines.append((display, seconds, f"{fmt}/{name}"))
            with atomic_target(m3u) as tmp:
                tmp.write_text(m3u8_text(lines), encoding="utf-8")
        m3u_sig = file_sig(m3u)
        published[fmt] = {"state": states[fmt], "shape": shape, "facts": facts,
                          "m3u": list(m3u_sig) if m3u_sig is not None else None, "dir": _dir_sig(str(fmt_dir))}
    if published != done:
        with contextlib.suppress(OSError):  # a memo only: every format is published again next time
            done_path.parent.mkdir(parents=True, exist_ok=True)
            write_json(done_path, published)
    if memo is not None and memo.changed:
        with contextlib.suppress(OSError):  # a memo only: read the JSON again next time
            memo_path = layout.cache / "publish" / f"{slug}.json"
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            write_json(memo_path, memo.kept)


def published_records(layout: Any, slug: str) -> dict[str, dict[str, Any]]:
    """What the last publish of a playlist recorded per format (cache/publish/<slug>.formats.json):
    `state`, the digest it was published at; `shape` and `facts`, of its entries and of their
    sidecars and analyses; `m3u`, the (mtime_ns, size) of the M3U8 written; `dir`, the folder's
    (inode, mtime_ns) once its links were made."""
    found = read_json(layout.cache / "publish" / f"{slug}.formats.json")
    return {fmt: rec for fmt, rec in found.items() if isinstance(rec, dict)} if isinstance(found, dict) else {}


def unchanged_since(folder: str, record: Any) -> bool:
    """Whether a playlist format folder is as the last publish left it: the same inode and
    mtime_ns, so no entry was added, removed or renamed in it since (each of those sets the
    folder's mtime), and every link the publish made is there without listing 20,000 names.
    Only on file systems with sub-millisecond timestamps: where mtimes are whole seconds or
    2 s steps (FAT on a USB stick), a change right after the publish could keep the mtime,
    and the folder is listed."""
    if not isinstance(record, dict):
        return False
    found = _dir_sig(folder)
    return found is not None and found[1] % 1_000_000 != 0 and found == record.get("dir")


def _dir_sig(folder: str) -> list[int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns]


def entries_text(entries: list[Entry]) -> bytes:
    """The entries a format lists, in order, as bytes to digest."""
    return "\n".join(f"{key}\0{name}\0{src}" for key, name, src in entries).encode("utf-8", "surrogateescape")


def _digest(entries: list[Entry]) -> str:
    """The entries a format lists, in order."""
    return hashlib.blake2b(entries_text(entries), digest_size=16).hexdigest()


def _listed(value: Any) -> tuple[int, int] | None:
    """A (mtime_ns, size) read back from JSON, where it became a list."""
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else None


class _Facts:
    """Where an M3U8 line's facts come from: a track's sidecar and analysis JSON, with their
    (mtime_ns, size) as the run found them (`known`) or as a stat finds them now."""

    def __init__(self, layout: Any, known: Mapping[str, tuple[Sig, Sig]]) -> None:
        # str paths as layout.sidecar/analysis give them: no Path per track
        self.folders = (f"{layout.audio}{os.sep}", f"{layout.analyses}{os.sep}")
        self.known = known

    def paths(self, key: str) -> tuple[str, str]:
        stem = stem_of(key)
        return f"{self.folders[0]}{stem}.json", f"{self.folders[1]}{stem}.json"

    def sigs(self, key: str) -> tuple[Sig, Sig]:
        found = self.known.get(key)
        if found is not None:
            return found
        sidecar, analysis = self.paths(key)
        return file_sig(sidecar), file_sig(analysis)

    def digest(self, entries: list[Entry]) -> str:
        """The (mtime_ns, size) of every entry's sidecar and analysis, in order."""
        sigs, packed = self.sigs, array("q")  # packed, not formatted
        for key, _, _ in entries:
            for sig in sigs(key):
                packed.extend(sig if sig is not None else (-1, -1))
        return hashlib.blake2b(packed.tobytes(), digest_size=16).hexdigest()


class _Inodes:
    """Whether a playlist folder's entry already is its library file, from directory listings
    (the inode numbers readdir gives, no stat per file): on one file system, equal numbers are
    one file. Anything else (another file system, a folder that cannot be listed, numbers
    readdir reports differently from stat, as overlayfs may) goes to `place`, which checks."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.sources: dict[str, tuple[int | None, dict[str, int]]] = {}  # folder -> (st_dev, name -> inode)

    @functools.cached_property
    def here(self) -> dict[str, int]:
        """name -> inode of the folder's entries, as first listed (before any link is placed)."""
        return self._listing(self.folder)

    @functools.cached_property
    def dev(self) -> int | None:
        return self._dev(self.folder)

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
    cache/publish/<slug>.json with both files' (mtime_ns, size): a playlist of 20,000 tracks
    whose M3U8 is written again for one track's sake would otherwise read 40,000 JSON files.
    A file replaced (as every cache write is) or edited shows."""

    def __init__(self, data: Any, facts: _Facts) -> None:
        self.known: dict[str, Any] = data if isinstance(data, dict) else {}
        self.kept: dict[str, Any] = {}
        self.changed = False
        self.facts = facts

    def of(self, key: str) -> Shown:
        found = self.kept.get(key)
        if found is not None:
            return found[2], found[3], found[4]
        sigs = [list(sig) if sig is not None else None for sig in self.facts.sigs(key)]
        old = self.known.get(key)
        if isinstance(old, list) and len(old) == 5 and old[:2] == sigs and None not in sigs:
            self.kept[key] = old
            return old[2], old[3], old[4]
        sidecar_path, analysis_path = self.facts.paths(key)
        analysis = AnalysisResult.from_json(read_json(Path(analysis_path))) or AnalysisResult()
        sidecar = Sidecar.from_json(read_json(Path(sidecar_path)))
        artist, title = (sidecar.artist, sidecar.title) if sidecar else (None, None)
        seconds = analysis.duration or (sidecar.duration if sidecar else None)
        self.kept[key] = [*sigs, artist, title, seconds]
        self.changed = True
        return artist, title, seconds

