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

from cratefile.actions import action
from cratefile.atomic import atomic_target, read_json
from cratefile.context import RunContext
from cratefile.records import AnalysisResult, Sidecar

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
def run_publish(ctx: RunContext, slug: str, folder: str, formats: dict[str, list[Entry]]) -> None:
    layout = ctx.layout
    base = layout.playlist_dir(folder)
    # key -> (artist, title, seconds): each track's JSON read once, not once per format
    shown: dict[str, tuple[str | None, str | None, float | None]] = {}
    for fmt, entries in formats.items():
        fmt_dir = base / fmt
        fmt_dir.mkdir(parents=True, exist_ok=True)
        wanted = set()
        lines = []
        for key, name, src in entries:
            place(Path(src), fmt_dir / name)
            wanted.add(name)
            if key not in shown:
                analysis = AnalysisResult.from_json(read_json(layout.analysis(key))) or AnalysisResult()
                sidecar = Sidecar.from_json(read_json(layout.sidecar(key)))
                artist, title = (sidecar.artist, sidecar.title) if sidecar else (None, None)
                shown[key] = (artist, title, analysis.duration or (sidecar.duration if sidecar else None))
            artist, title, seconds = shown[key]
            display = " - ".join(x for x in (artist, title) if x) or Path(name).stem
            lines.append((display, seconds, f"{fmt}/{name}"))
        for stale in fmt_dir.iterdir():
            if stale.is_file() and not stale.name.startswith(".") and stale.name not in wanted:
                stale.unlink()
        with atomic_target(layout.m3u(folder, fmt)) as tmp:
            tmp.write_text(m3u8_text(lines), encoding="utf-8")
