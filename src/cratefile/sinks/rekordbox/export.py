"""`cratefile export rekordbox`: the catalog as a Rekordbox XML collection with one playlist per
manifest playlist, in order. Each playlist uses the format given with --format, or its own
first format; tracks not built in that format are left out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cratefile import __version__
from cratefile.analysis.key import key_in_notation
from cratefile.catalog.sqlite import Catalog
from cratefile.errors import UsageError
from cratefile.layout import Layout
from cratefile.records import Manifest
from cratefile.sinks.rekordbox.xml import RbPlaylist, RbTrack, kind_of, stable_track_ids, write_rekordbox_xml


def export_rekordbox(manifest: Manifest, dest: Path, fmt: str | None = None) -> tuple[int, int]:
    """Write `dest`; return (tracks, playlists) written."""
    if fmt is not None and fmt not in manifest.formats:
        raise UsageError(f"--format {fmt!r} is not a format (known: {', '.join(sorted(manifest.formats))})")
    layout = Layout(manifest.cache, manifest.library)
    if not layout.catalog.exists():
        raise UsageError("nothing is built yet: run cratefile first")
    catalog = Catalog(layout.catalog)
    try:
        wanted: list[tuple[str, list[tuple[str, str, str]]]] = []  # (playlist, [(key, fmt, path)])
        for p in manifest.playlists:
            use = fmt or p.formats[0]
            rows = []
            for key in catalog.members(p.slug):
                path = catalog.files_of(key).get(use)
                if path and os.path.exists(path):
                    rows.append((key, use, path))
            wanted.append((p.name, rows))
        files = sorted({(key, f) for _, rows in wanted for key, f, _ in rows})
        ids = stable_track_ids(files)
        tracks: dict[int, RbTrack] = {}
        notation = manifest.analysis.key_notation
        for _, rows in wanted:
            for key, f, path in rows:
                tid = ids[(key, f)]
                if tid in tracks:
                    continue
                row = catalog.track(key) or {}
                st = os.stat(path)
                tracks[tid] = RbTrack(
                    track_id=tid, path=Path(path).resolve(), name=row.get("title") or Path(path).stem,
                    artist=row.get("artist") or "", album=row.get("album"), bpm=row.get("bpm"),
                    tonality=key_in_notation(row["musical_key"], notation) if row.get("musical_key") else None,
                    total_time=int(round(row.get("duration") or 0)), size=st.st_size, kind=kind_of(Path(path)),
                    date_added=time.strftime("%Y-%m-%d", time.localtime(st.st_mtime)),
                )
        playlists = [RbPlaylist(name, tuple(ids[(k, f)] for k, f, _ in rows)) for name, rows in wanted]
    finally:
        catalog.close()
    write_rekordbox_xml(dest, list(tracks.values()), playlists, product_version=__version__)
    return len(tracks), len(playlists)
