"""`cratefile prune [--dry-run]`: take out of the library the files the manifest no longer asks for.

A track dropped from every playlist, a format dropped from a playlist, a playlist dropped
from the manifest, a file renamed since: their files stay in the library (a build never
deletes what it did not just replace) until prune takes them out. Only cratefile's own
places are looked at: library/<format>/ for known formats and library/playlists/. A
playlist whose snapshot is missing protects everything (its tracks are unknown), and a track
listed by any playlist's current snapshot (a snapshot the shrink guard kept included) keeps
every file the catalog records for it in a format its playlists ask for.

Nothing is deleted at once: each file is moved to `library/.trash/<YYYYmmddTHHMMSS>/<its path
under library/>` (os.replace; copied then removed across volumes, atomically per file), and
that folder's `manifest.json` says where each came from, its size, mtime and why it went.
`cratefile prune --restore <stamp>` moves them back (never over a file that is there now),
`cratefile prune --list-trash` lists the folders. A trash folder older than `prune.keep_trash`
(its age is the time its name says) is emptied at the start of the next prune. The trash is
cratefile's own: never pruned, published or scanned by a build.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cratefile import plan
from cratefile.atomic import part_path, read_json, write_json
from cratefile.catalog.sqlite import Catalog
from cratefile.engine.tasks import current_names
from cratefile.errors import UsageError
from cratefile.layout import Layout, playlist_folder
from cratefile.quality.aliases import of_catalog
from cratefile.quality.policy import any_skip, held_formats
from cratefile.records import Claim, Manifest
from cratefile.snapshots import read_snapshot

TRASH = ".trash"  # under the library
STAMP_FORMAT = "%Y%m%dT%H%M%S"
_STAMP = re.compile(r"(\d{8}T\d{6})(?:-\d+)?")
TRASH_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Doomed:
    path: Path  # a file or a folder (a playlist's, or one of its format folders)
    why: str


@dataclass(frozen=True)
class PruneResult:
    doomed: list[Doomed]
    stamp: str | None  # the trash folder they went to (None: dry run, or nothing to move)
    trash: Path | None
    emptied: list[str]  # trash folders emptied (dry run: that would be)


@dataclass(frozen=True)
class TrashFolder:
    stamp: str
    files: int
    size: int  # bytes


def trash_root(layout: Layout) -> Path:
    return layout.library / TRASH


def stamp_time(stamp: str) -> float | None:
    """The unix time a trash folder's name says, or None when it is not one of ours."""
    match = _STAMP.fullmatch(stamp)
    if match is None:
        return None
    try:
        return time.mktime(time.strptime(match.group(1), STAMP_FORMAT))
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class _Wanted:
    files: set[Path]
    folders: set[Path]
    claims: dict[str, Claim]
    records: dict[str, tuple[str, str, str | None]]  # library file -> (key, format, inputs), from the catalog
    held: dict[str, frozenset[str]]  # formats from_lossy: skip holds back, by track
    aliases: dict[str, str]  # acoustic duplicate -> the kept track published in its place


def _wanted(manifest: Manifest) -> _Wanted:
    layout = Layout(manifest.cache, manifest.library)
    snapshots = {p.slug: read_snapshot(layout.snapshot(p.slug)) for p in manifest.playlists}
    missing = [p.name for p in manifest.playlists if snapshots[p.slug] is None]
    if missing:
        raise UsageError(f"playlists not fetched yet ({', '.join(missing)}): run cratefile first, then prune")
    catalog = Catalog(layout.catalog) if layout.catalog.exists() else None
    try:
        # an acoustic duplicate's files are not wanted while its kept track is published in its place,
        # nor a format from_lossy: skip holds back (cratefile.quality)
        duplicates = of_catalog(catalog)
        claims = plan.claims(manifest, snapshots, duplicates)
        skips = catalog is not None and any_skip(manifest.playlists, manifest.formats)
        held = held_formats(claims, catalog.lossy_origin(), manifest.formats) if catalog is not None and skips else {}
        names = current_names(manifest, claims, catalog)
        rows = catalog.file_records() if catalog is not None else {}
    finally:
        if catalog is not None:
            catalog.close()
    files = {layout.output(fmt, names[k], manifest.formats[fmt].extension)
             for k, c in claims.items() if k in names for fmt in c.formats if fmt not in held.get(k, ())}
    # a listed track keeps the files the catalog has for it (its sidecar may be gone, a name may differ)
    files.update(Path(r["path"]) for (k, fmt), r in rows.items()
                 if k in claims and fmt in claims[k].formats and fmt not in held.get(k, ()))
    folders = set()
    for p in manifest.playlists:
        base = layout.playlist_dir(playlist_folder(p))
        folders.add(base)
        folders.update(base / fmt for fmt in p.formats)
        files.update(layout.m3u(playlist_folder(p), fmt) for fmt in p.formats)
    records = {r["path"]: (k, fmt, r.get("inputs")) for (k, fmt), r in rows.items()}
    aliases = {a: k for a, k in duplicates.items() if a not in claims and k in claims}
    return _Wanted(files, folders, claims, records, held, aliases)


def wanted_files(manifest: Manifest) -> tuple[set[Path], set[Path]]:
    """(library files, playlist folders) the manifest asks for, as things stand."""
    wanted = _wanted(manifest)
    return wanted.files, wanted.folders


def _why_file(path: Path, wanted: _Wanted) -> str:
    known = wanted.records.get(str(path))
    if known is None:
        return "not a file of any track the playlists list"
    key, fmt, _ = known
    claim = wanted.claims.get(key)
    if claim is None:
        kept = wanted.aliases.get(key)
        if kept is not None:
            return f"its track is the same recording as {kept}, whose file its playlists publish"
        return "its track is no longer listed by any playlist"
    if fmt not in claim.formats:
        return f"no playlist listing its track asks for {fmt} any more"
    if fmt in wanted.held.get(key, ()):
        return f"its source is lossy and from_lossy: skip holds {fmt} back"
    return "an earlier name of its track's file"


def doomed_paths(manifest: Manifest) -> tuple[list[Doomed], _Wanted]:
    layout = Layout(manifest.cache, manifest.library)
    wanted = _wanted(manifest)
    doomed: list[Doomed] = []
    for fmt in sorted(manifest.formats):
        folder = layout.library / fmt
        if folder.is_dir():
            doomed += [Doomed(p, _why_file(p, wanted)) for p in sorted(folder.iterdir())
                       if p.is_file() and p not in wanted.files]
    root = layout.playlists_root
    if root.is_dir():
        for base in sorted(root.iterdir()):
            if base.is_dir() and base not in wanted.folders:
                doomed.append(Doomed(base, "its playlist is no longer in the manifest (or was renamed)"))
                continue
            for entry in sorted(base.iterdir()) if base.is_dir() else ():
                if entry.is_dir() and entry not in wanted.folders:
                    doomed.append(Doomed(entry, "its playlist no longer asks for this format"))
                elif entry.is_file() and entry.suffix == ".m3u8" and entry not in wanted.files:
                    doomed.append(Doomed(entry, "its playlist no longer asks for this format"))
    return doomed, wanted


def prune(manifest: Manifest, *, dry_run: bool) -> PruneResult:
    """Move (or list, with dry_run) what the manifest no longer asks for to the trash; first
    empty the trash folders older than prune.keep_trash."""
    layout = Layout(manifest.cache, manifest.library)
    doomed, wanted = doomed_paths(manifest)  # first: a prune refused (a playlist not fetched) empties nothing
    emptied = empty_old_trash(layout, manifest.prune.keep_trash_seconds, time.time(), dry_run=dry_run)
    if dry_run or not doomed:
        return PruneResult(doomed, None, None, emptied)
    stamp, trash = _new_trash_folder(layout)
    moves: list[tuple[Path, str, Doomed]] = []  # (file, its path under library/, why)
    for d in doomed:
        inside = _trashed_files(d.path) if d.path.is_dir() and not d.path.is_symlink() else [d.path]
        moves += [(f, f.relative_to(layout.library).as_posix(), d) for f in inside]
    entries: dict[str, dict[str, Any]] = {}
    for src, rel, d in moves:
        st = src.lstat()
        entry: dict[str, Any] = {"from": str(src), "size": st.st_size, "mtime": st.st_mtime,
                                 "mtime_ns": st.st_mtime_ns, "why": d.why}
        known = wanted.records.get(str(src))
        if known is not None:  # so that a restore gives the catalog its file row back
            entry.update(key=known[0], format=known[1], inputs=known[2])
        entries[rel] = entry
    # written first: a run killed half way leaves a manifest whose moved files --restore finds
    write_json(trash / TRASH_MANIFEST, {"stamp": stamp, "pruned_at": time.time(), "library": str(layout.library),
                                        "files": entries})
    for src, rel, _ in moves:
        _move(src, trash / rel)
    for d in doomed:
        if d.path.is_dir():
            _remove_empty_tree(d.path)
    catalog = Catalog(layout.catalog) if layout.catalog.exists() else None
    if catalog is not None:
        try:
            catalog.forget_files([str(src) for src, _, _ in moves])
        finally:
            catalog.close()
    return PruneResult(doomed, stamp, trash, emptied)


def empty_old_trash(layout: Layout, keep_seconds: float, now: float, *, dry_run: bool) -> list[str]:
    """Delete (or list, with dry_run) the trash folders older than keep_seconds."""
    root = trash_root(layout)
    if not root.is_dir():
        return []
    old = []
    for folder in sorted(root.iterdir()):
        made = stamp_time(folder.name)
        if folder.is_dir() and made is not None and now - made > keep_seconds:
            old.append(folder.name)
            if not dry_run:
                shutil.rmtree(folder)
    return old


def list_trash(manifest: Manifest) -> list[TrashFolder]:
    root = trash_root(Layout(manifest.cache, manifest.library))
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if not folder.is_dir() or stamp_time(folder.name) is None:
            continue
        files = _trashed_files(folder)
        out.append(TrashFolder(folder.name, len(files), sum(f.lstat().st_size for f in files)))
    return out


def restore(manifest: Manifest, stamp: str) -> tuple[list[Path], list[Path]]:
    """Move the files of trash folder `stamp` back where they were: (restored, refused). A file
    is refused (and stays in the trash) when something is at its place now."""
    layout = Layout(manifest.cache, manifest.library)
    trash = trash_root(layout) / stamp
    if stamp_time(stamp) is None or not trash.is_dir():
        raise UsageError(f"no trash folder {stamp!r} (cratefile prune --list-trash lists them)")
    data = read_json(trash / TRASH_MANIFEST)
    entries: dict[str, Any] = data.get("files", {}) if isinstance(data, dict) else {}
    restored: list[tuple[Path, dict[str, Any]]] = []
    refused: list[Path] = []
    left: dict[str, Any] = {}
    for rel, entry in sorted(entries.items()):
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            left[rel] = entry  # not one of ours: never written outside the library
            continue
        src, dst = trash / rel, layout.library.joinpath(*parts)
        if not os.path.lexists(src):
            continue  # a prune killed before it moved this one: it never left the library
        if os.path.lexists(dst):
            refused.append(dst)
            left[rel] = entry
            continue
        _move(src, dst)
        restored.append((dst, entry))
    _give_back_file_rows(layout, restored)
    if left:
        write_json(trash / TRASH_MANIFEST, {**(data if isinstance(data, dict) else {}), "files": left})
    elif not any(True for _ in _trashed_files(trash)):
        shutil.rmtree(trash)
    return [p for p, _ in restored], refused


def _give_back_file_rows(layout: Layout, restored: list[tuple[Path, dict[str, Any]]]) -> None:
    """The catalog rows prune forgot, for the restored files no newer build replaced: a
    restored file the manifest asks for again is then current, not rebuilt."""
    rows = [(p, e) for p, e in restored if isinstance(e.get("key"), str) and isinstance(e.get("format"), str)]
    if not rows or not layout.catalog.exists():
        return
    catalog = Catalog(layout.catalog)
    try:
        have = catalog.file_paths()
        for path, entry in rows:
            if (entry["key"], entry["format"]) not in have:
                catalog.record_file(entry["key"], entry["format"], path, entry.get("inputs"))
    finally:
        catalog.close()


def _trashed_files(folder: Path) -> list[Path]:
    """Every file (and link, a link to a folder included) under `folder`, its manifest left out."""
    found = []
    for dirpath, dirnames, names in os.walk(folder):
        found += [Path(dirpath, n) for n in names]
        found += [Path(dirpath, d) for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    return sorted(f for f in found if f != folder / TRASH_MANIFEST)


def _new_trash_folder(layout: Layout) -> tuple[str, Path]:
    root = trash_root(layout)
    base = time.strftime(STAMP_FORMAT)
    for n in range(1, 1000):
        stamp = base if n == 1 else f"{base}-{n}"
        try:
            (root / stamp).mkdir(parents=True)
        except FileExistsError:
            continue
        return stamp, root / stamp
    raise UsageError(f"too many prunes in one second ({root / base})")


def _move(src: Path, dst: Path) -> None:
    """Move one file (or link): os.replace on one volume; across volumes a copy under a
    temporary name moved into place, then the original removed."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp = part_path(dst)
    try:
        shutil.copy2(src, tmp, follow_symlinks=False)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.unlink(src)


def _remove_empty_tree(folder: Path) -> None:
    """Remove `folder` and the folders under it, all emptied by the moves."""
    for dirpath, _, _ in os.walk(folder, topdown=False):
        os.rmdir(dirpath)
