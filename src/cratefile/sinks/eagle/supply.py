"""Before a remote track is downloaded: does the user's Eagle library already hold it?

A DJ moving to cratefile often has years of tracks in Eagle already. When a track about to be
downloaded (a SoundCloud upload, a matched Spotify/Discogs track, a Notion page) is in Eagle
under its name, with a file Eagle keeps and the length the source gives, that file is copied
(hard-linked when it can be) into cache/audio as the track's source and nothing is
downloaded. After that it is a track like any other: measured (provenance, fingerprint),
analyzed, converted; the Eagle step then finds the same recording by fingerprint
(sinks/eagle/reuse.py) and files that very item into the playlist folders instead of
importing a copy.

No fingerprint can be compared before a download, so what is asked is strict (a wrong song
under the right name is the worst outcome): the source names the title, the artist and the
length; the item's name is `Artist - Title` or `Title - Artist` (folded: case, accents,
punctuation); its file is under the library's `images/<id>.info/` and readable as audio; and
its measured length is within LENGTH_TOLERANCE of the source's. A lossless item is preferred
over a lossy one, then the older item. Items cratefile imported itself (converted files,
carrying its identity tag) never stand in for a source. Eagle closed or failing: the track is
downloaded as usual, and Eagle is not asked again in that run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.atomic import atomic_target
from cratefile.errors import TrackFailure
from cratefile.records import Sidecar, TrackRef
from cratefile.resolve.normalize import fold

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.sinks.eagle.api import Item

log = logging.getLogger(__name__)

LENGTH_TOLERANCE = 2.0  # seconds between the source's length and the item's file
AUDIO = ("wav", "aiff", "aif", "flac", "alac", "m4a", "mp3", "ogg", "opus")
LOSSLESS = frozenset({"wav", "aiff", "aif", "flac", "alac"})
OFF = "eagle-supply-off"  # RunContext.shared name: Eagle did not answer, do not ask again this run


def name_is(name: str, title: str, artist: str) -> bool:
    folded = fold(name)
    return bool(folded) and folded in {fold(f"{artist} - {title}"), fold(f"{title} - {artist}")}


def _file(library: Path, item: Item, ext: str) -> Path | None:
    """The item's file, if it is where Eagle keeps it (never outside `images/<id>.info/`)."""
    images = (library / "images").resolve()
    folder = (images / f"{item['id']}.info").resolve()
    path = (folder / f"{item.get('name')}.{ext}").resolve()
    return path if folder.parent == images and path.parent == folder and path.is_file() else None


def supply(ctx: RunContext, config: Any, ref: TrackRef, dest: Path) -> Sidecar | None:
    if not (ref.title and ref.artist and ref.duration) or ctx.shared(OFF, lambda: [False])[0]:
        return None
    from cratefile.sinks.eagle.api import EagleError, ext_of
    from cratefile.sinks.eagle.client import EagleClient
    from cratefile.sinks.eagle.reuse import theirs

    title, artist = ref.title, ref.artist
    client = ctx.shared("eagle", lambda: EagleClient(config.api_url))
    try:
        hits = client.search_items({"keyword": title}, lambda i: name_is(str(i.get("name") or ""), title, artist))
        library = client.library() if hits else None
    except EagleError as exc:
        ctx.shared(OFF, lambda: [False])[0] = True
        log.info("Eagle not asked for copies of tracks to download this run: %s", exc)
        return None
    if library is None:
        return None
    candidates = [i for i in hits if not i.get("isDeleted") and ext_of(i) in AUDIO and not theirs(i)]
    candidates.sort(key=lambda i: (ext_of(i) not in LOSSLESS, i.get("modificationTime") or 0, str(i["id"])))
    for item in candidates:
        ext = ext_of(item)
        path = _file(library, item, ext)
        if path is None:
            continue
        sidecar = _copy(ref, item, path, ext, dest)
        if sidecar is not None:
            log.info("%s: taken from Eagle item %s (%s), not downloaded", ref.key, item["id"], path.name)
            return sidecar
    return None


def _copy(ref: TrackRef, item: Item, path: Path, ext: str, dest: Path) -> Sidecar | None:
    from cratefile.sources import probe

    try:
        facts = probe.read(path)
    except TrackFailure:
        return None
    assert ref.duration is not None
    if not facts.duration or abs(facts.duration - ref.duration) > LENGTH_TOLERANCE:
        return None
    name = f"{ref.stem}.{ext}"
    with atomic_target(dest / name) as tmp:
        try:
            os.link(path, tmp)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            shutil.copyfile(path, tmp)
    return Sidecar(
        key=ref.key, url=ref.url, audio=name, ext=ext, codec=facts.codec, bitrate=facts.bitrate,
        sample_rate=facts.sample_rate, channels=facts.channels, duration=facts.duration,
        declared_duration=ref.duration, title=ref.title, artist=ref.artist, album=facts.album,
        tags={name: value for name, value in facts.tags.items() if value is not None},
        supplied_by=f"eagle:{item['id']}",
    )
