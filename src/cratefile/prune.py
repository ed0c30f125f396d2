"""`cratefile prune [--dry-run]`: remove library files the manifest no longer asks for.

A track dropped from every playlist, a format dropped from a playlist, a playlist dropped
from the manifest, a file renamed since: their files stay in the library (a build never
deletes what it did not just replace) until prune removes them. Only cratefile's own
places are looked at: library/<format>/ for known formats and library/playlists/. A
playlist whose snapshot is missing protects everything (its tracks are unknown).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cratefile import plan
from cratefile.catalog.sqlite import Catalog
from cratefile.engine.tasks import current_names
from cratefile.errors import UsageError
from cratefile.layout import Layout, playlist_folder
from cratefile.records import Manifest
from cratefile.snapshots import read_snapshot


def wanted_files(manifest: Manifest) -> tuple[set[Path], set[Path]]:
    """(library files, playlist folders) the manifest asks for, as things stand."""
    layout = Layout(manifest.cache, manifest.library)
    snapshots = {p.slug: read_snapshot(layout.snapshot(p.slug)) for p in manifest.playlists}
    missing = [p.name for p in manifest.playlists if snapshots[p.slug] is None]
    if missing:
        raise UsageError(f"playlists not fetched yet ({', '.join(missing)}): run cratefile first, then prune")
    claims = plan.claims(manifest, snapshots)
    catalog = Catalog(layout.catalog) if layout.catalog.exists() else None
    try:
        names = current_names(manifest, claims, catalog)
    finally:
        if catalog is not None:
            catalog.close()
    files = {layout.output(fmt, names[k], manifest.formats[fmt].extension)
             for k, c in claims.items() if k in names for fmt in c.formats}
    folders = set()
    for p in manifest.playlists:
        base = layout.playlist_dir(playlist_folder(p))
        folders.add(base)
        folders.update(base / fmt for fmt in p.formats)
        files.update(layout.m3u(playlist_folder(p), fmt) for fmt in p.formats)
    return files, folders


def prune(manifest: Manifest, *, dry_run: bool) -> list[Path]:
    """Remove (or list, with dry_run) what the manifest no longer asks for; return it."""
    layout = Layout(manifest.cache, manifest.library)
    files, folders = wanted_files(manifest)
    doomed: list[Path] = []
    for fmt in sorted(manifest.formats):
        folder = layout.library / fmt
        if folder.is_dir():
            doomed += sorted(p for p in folder.iterdir() if p.is_file() and p not in files)
    root = layout.playlists_root
    if root.is_dir():
        for base in sorted(root.iterdir()):
            if base.is_dir() and base not in folders:
                doomed.append(base)
                continue
            for entry in sorted(base.iterdir()) if base.is_dir() else ():
                if entry.is_dir() and entry not in folders:
                    doomed.append(entry)
                elif entry.is_file() and entry.suffix == ".m3u8" and entry not in files:
                    doomed.append(entry)
    if dry_run:
        return doomed
    catalog = Catalog(layout.catalog) if layout.catalog.exists() else None
    try:
        for path in doomed:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                os.unlink(path)
        if catalog is not None:
            catalog.forget_files([str(p) for p in doomed])
    finally:
        if catalog is not None:
            catalog.close()
    return doomed
