"""The playlists sink (always on): per playlist, a folder of links per format and an M3U8.

Tasks `publish:<slug>`, made once the conversions ran, over the library files that exist. An
acoustic duplicate's position links the file of the recording kept in its place, and a format
`from_lossy: skip` holds back is left out (cratefile.quality.aliases.Published).
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cratefile.layout import playlist_folder
from cratefile.quality.aliases import Published
from cratefile.records import digest
from cratefile.sinks.base import BuildView, SinkBase, quiet
from cratefile.sinks.playlists.publish import Entry, entries_text, published_records, run_publish, unchanged_since


def _links_present(base: Path, entries: Mapping[str, list[Entry]], records: Mapping[str, Any]) -> bool:
    """Every link is there: one listing per format folder, not one stat per link; none for a
    folder left as the last publish left it (publish.unchanged_since: its inode and mtime)."""
    for fmt, rows in entries.items():
        folder = base / fmt
        if unchanged_since(str(folder), records.get(fmt)):
            continue
        try:
            with os.scandir(folder) as found:
                names = {e.name for e in found if not e.is_symlink() or os.path.exists(e.path)}
        except OSError:
            names = set()
        if not all(name in names for _, name, _ in rows):
            return False
    return True


def _states(entries: Mapping[str, list[Entry]], known: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    """Per format, a digest of its entries and of the (mtime_ns, size) of every library file they
    link: what their file_dep were (one uptodate value instead of a doit dependency per file).
    A file the run already found in place (`known`, BuildView.file_sigs) is not stat-ed again."""
    states = {}
    for fmt, rows in entries.items():
        sigs = array("q")  # packed, not formatted: 60,000 of them in every run's check
        for _, _, src in rows:
            sig = known.get(src)
            if sig is None:
                try:
                    st = os.stat(src)
                except OSError:
                    sig = (-1, -1)
                else:
                    sig = st.st_mtime_ns, st.st_size
            sigs.extend(sig)
        h = hashlib.blake2b(digest_size=16)
        h.update(fmt.encode() + b"\n" + entries_text(rows) + b"\n")
        h.update(sigs.tobytes())
        states[fmt] = h.hexdigest()
    return states


class PlaylistsSink(SinkBase):
    name = "playlists"
    basename = "publish"
    after = "convert"

    def parse(self, section: Any, reader: Any) -> bool:
        return True  # no section: always on

    def tasks(self, build: BuildView, config: Any) -> Iterator[dict[str, Any]]:
        from doit.tools import config_changed  # here: `cratefile status` loads this sink, not doit

        layout = build.layout
        published = Published.of(build)
        for p in build.manifest.playlists:
            snap = build.snapshots.get(p.slug)
            if snap is None:
                continue
            folder = playlist_folder(p)
            formats = p.formats
            entries: dict[str, list[Entry]] = {fmt: [] for fmt in formats}
            columns = [entries[fmt] for fmt in formats]
            for ref in snap.tracks:
                paths = published.output_files(ref.key, formats)  # an alias: the kept track's files
                if paths.count(None) == len(paths):
                    continue
                track = published.key_of(ref.key)
                for rows, src in zip(columns, paths, strict=True):
                    if src is not None:
                        rows.append((track, src.rpartition("/")[2], src))
            states = _states(entries, build.file_sigs)
            yield {
                "name": p.slug,
                "doc": f"playlist folder and M3U8 of {p.name!r}",
                "actions": [(run_publish, [build.run, p.slug, folder, entries, states, build.state_sigs])],
                "targets": [str(layout.m3u(folder, fmt)) for fmt in p.formats],
                # the linked files' (mtime_ns, size) in the digest, not as 60,000 file_dep of a large library
                "uptodate": [config_changed(digest(states)),
                             (_links_present, [layout.playlist_dir(folder), entries,
                                               published_records(layout, p.slug)])],
                **quiet(),
            }
