"""Atomic outputs: write under a temporary name in the same folder, then os.replace.

A killed run leaves `*.part` leftovers at worst, never a truncated file under a real name.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def part_path(final: Path) -> Path:
    """A unique temporary sibling of `final` that keeps its extension (ffmpeg and mutagen
    pick the container from it): 'a/Song.wav' -> 'a/.Song.3f2a9c.part.wav'."""
    return final.with_name(f".{final.stem}.{uuid.uuid4().hex[:6]}.part{final.suffix}")


@contextlib.contextmanager
def atomic_target(final: Path) -> Iterator[Path]:
    """Yield a temporary path; on success move it onto `final`, on error delete it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes(final: Path, data: bytes) -> None:
    with atomic_target(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_json(final: Path, obj: Any) -> None:
    write_bytes(final, (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())


def read_json(path: Path) -> Any | None:
    """The JSON in `path`, or None when it is missing or unreadable (a stale leftover)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def sweep_parts(folders: list[Path]) -> int:
    """Delete temporary files a killed run left in `folders` (not recursive). Call only while
    holding the workspace lock: another run's temporary files look the same."""
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            name = entry.name
            ours = name.startswith(".") and (".part" in name or ".dl." in name)  # ours and yt-dlp's (sources/ytdlp.py)
            if ours and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def file_sig(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, None when it is not there: what the up-to-date checks
    compare (a file replaced, as every cache write is, or edited shows in one of the two)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
