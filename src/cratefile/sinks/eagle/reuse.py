"""Reuse what the user's Eagle library already holds, instead of importing a second copy.

Before a file is imported (no item of ours for the track and format exists yet), the items of
the same extension that Eagle finds by the track's title (`item/list?keyword=`, V1) are
candidates when their name is the track's (`Artist - Title`, `Title - Artist` or the title,
compared folded: case, accents, punctuation). A candidate must then prove it is the same
recording, precision first (a wrong song under the right name is the worst outcome):

- its file reachable (`<library>/images/<id>.info/<name>.<ext>`, the path from
  `library/info`): its Chromaprint fingerprint matches the track's at the duplicate
  thresholds of cratefile.quality.dupes (and the durations agree);
- its file not reachable: the duration the item carries (a `duration` field in seconds,
  when Eagle gives one) agrees with the track's (cratefile.quality.dupes.durations_agree).

A candidate with nothing to check is not reused. Items already carrying an identity tag of
cratefile belong to another track and are never candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cratefile.resolve.normalize import fold
from cratefile.sinks.eagle.api import Item, ext_matches, tags_of

if TYPE_CHECKING:
    import numpy as np

    from cratefile.sinks.eagle.client import EagleClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    """The track a file is of, as the candidates are checked against it."""

    title: str | None
    artist: str | None
    duration: float | None  # seconds
    ext: str
    fingerprint: Callable[[], np.ndarray | None]  # the track's Chromaprint items, read when needed


def names_agree(name: str, title: str | None, artist: str | None) -> bool:
    if not title:
        return False
    folded = fold(name)
    forms = {fold(title)}
    if artist:
        forms |= {fold(f"{artist} - {title}"), fold(f"{title} - {artist}")}
    return folded in forms


def theirs(item: Item) -> bool:
    """The item is one cratefile imported (it carries an identity tag)."""
    from cratefile.sinks.eagle.client import IDENTITY_PREFIX

    return any(t.startswith(IDENTITY_PREFIX) for t in tags_of(item))


def _duration_of(item: Item) -> float | None:
    value = item.get("duration")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def same_recording(path: Path, wanted: Wanted) -> bool | None:
    """Is the file at `path` the track's recording? None: nothing to compare with."""
    from cratefile.quality.dupes import is_duplicate
    from cratefile.quality.fingerprint import compare
    from cratefile.quality.record import measure

    ours = wanted.fingerprint()
    if ours is None:
        return None
    record = measure(path)
    theirs = record.items()
    if theirs is None:
        return None
    return is_duplicate(compare(ours, theirs), wanted.duration, record.duration)


def proves(item: Item, file: Path | None, wanted: Wanted) -> bool:
    """Does a candidate whose name agrees prove to be the same recording (module docstring)?"""
    from cratefile.quality.dupes import durations_agree

    if file is not None and file.is_file():
        same = same_recording(file, wanted)
        if same is not None:
            return same
    duration = _duration_of(item)
    return duration is not None and wanted.duration is not None and durations_agree(duration, wanted.duration)


def held_item(client: EagleClient, wanted: Wanted) -> Item | None:
    """The user's item holding this track in this format, if one proves to be it."""
    if not wanted.title:
        return None
    ext = wanted.ext.lower().lstrip(".")
    hits = client.search_items({"keyword": wanted.title, "ext": ext},
                               lambda i: names_agree(str(i.get("name") or ""), wanted.title, wanted.artist))
    candidates = [i for i in hits if not i.get("isDeleted") and ext_matches(i, ext) and not theirs(i)]
    if not candidates:
        return None
    library = client.library()
    for item in sorted(candidates, key=lambda i: (i.get("modificationTime") or 0, str(i["id"]))):
        file = client.item_file(item, library) if library is not None else None
        if proves(item, file, wanted):
            log.info("Eagle: %s already holds %s - %s (item %s): reused", client.api_url, wanted.artist,
                     wanted.title, item["id"])
            return item
    return None


__all__ = ["Wanted", "held_item", "names_agree", "proves", "same_recording", "theirs"]
