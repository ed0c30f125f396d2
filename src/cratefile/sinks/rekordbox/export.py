"""`cratefile export rekordbox`: the catalog as a Rekordbox XML collection with one playlist per
manifest playlist, in order. Each playlist uses the format given with --format, or its own
first format; tracks not built in that format (or held back by `from_lossy: skip`) are left
out, and an acoustic duplicate's entry is the recording kept in its place.

A track's beat grid starts on the first beat its analysis measured (cache/analysis/<stem>.json).
Where the analysis found no reliable pulse, the track gets no BPM and no grid: Rekordbox
analyses it itself rather than trusting a guess.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from cratefile import __version__
from cratefile.analysis.key import key_in_notation
from cratefile.atomic import read_json
from cratefile.catalog.sqlite import Catalog
from cratefile.errors import UsageError
from cratefile.layout import Layout
from cratefile.quality.aliases import Listed
from cratefile.records import AnalysisResult, Manifest
from cratefile.sinks.rekordbox.xml import RbPlaylist, RbTrack, kind_of, stable_track_ids, write_rekordbox_xml


def beat_grid(bpm: float | None, analysis: AnalysisResult | None) -> tuple[float | None, float | None]:
    """(AverageBpm, first beat of the grid) of a track whose BPM is `bpm` (the catalog's).

    - no BPM, or an analysis that looked for a grid (its measured output has a first_beat key)
      and found no reliable pulse while the BPM is that analysis's guess: (None, None);
    - a first beat measured on the same pulse as the BPM (the tag's BPM may be the analysis's
      octave): (bpm, first beat);
    - otherwise (an analysis from before first beats, no analysis, a tag's BPM the analysis
      disagrees with): (bpm, None), a BPM without a grid.
    """
    if bpm is None or not bpm > 0:
        return None, None
    if analysis is None:
        return bpm, None
    if analysis.first_beat is None:
        looked = "first_beat" in analysis.measured
        return (None, None) if looked and analysis.bpm_source == "analysis" else (bpm, None)
    measured = analysis.measured.get("bpm")
    if analysis.bpm_source != "analysis" and not _same_pulse(bpm, measured):
        return bpm, None
    return bpm, float(analysis.first_beat)


def _same_pulse(a: float, b: object) -> bool:
    """a and b are the same tempo or octaves of it, within 0.5 %."""
    if not isinstance(b, (int, float)) or not b > 0:
        return False
    octaves = math.log2(a / b)
    return abs(octaves - round(octaves)) < math.log2(1.005)


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
        members = {p.slug: catalog.members(p.slug) for p in manifest.playlists}
        listed = Listed(manifest, catalog, members)  # acoustic duplicates, from_lossy: skip
        for p in manifest.playlists:
            use = fmt or p.formats[0]
            rows = []
            for key in members[p.slug]:
                track = listed.key_of(key)  # an alias: the kept track's entry
                path = catalog.files_of(track).get(use) if use not in listed.held_of(key) else None
                if path and os.path.exists(path):
                    rows.append((track, use, path))
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
                bpm, first_beat = beat_grid(row.get("bpm"), AnalysisResult.from_json(read_json(layout.analysis(key))))
                st = os.stat(path)
                tracks[tid] = RbTrack(
                    track_id=tid, path=Path(path).resolve(), name=row.get("title") or Path(path).stem,
                    artist=row.get("artist") or "", album=row.get("album"), bpm=bpm, first_beat=first_beat,
                    tonality=key_in_notation(row["musical_key"], notation) if row.get("musical_key") else None,
                    total_time=int(round(row.get("duration") or 0)), size=st.st_size, kind=kind_of(Path(path)),
                    date_added=time.strftime("%Y-%m-%d", time.localtime(st.st_mtime)),
                    comments=row.get("quality"),  # the source's provenance: 'lossless', 'upscaled from ~128k (...)'
                )
        playlists = [RbPlaylist(name, tuple(ids[(k, f)] for k, f, _ in rows)) for name, rows in wanted]
    finally:
        catalog.close()
    write_rekordbox_xml(dest, list(tracks.values()), playlists, product_version=__version__)
    return len(tracks), len(playlists)
