"""eagle:<key>:<format> — import a built file into Eagle, once, in its playlists' folders.

An item the user's Eagle library already holds for the track (same name, then the same
recording by fingerprint or duration: sinks.eagle.reuse) is reused instead of importing a
second copy. The Eagle item id is recorded in the catalog (`eagle_ids`, per format). Eagle not running is
said once per run; every Eagle task then fails fast so the step is retried next run, while
the rest of the build goes on.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.actions import action
from cratefile.analysis.key import key_in_notation
from cratefile.atomic import read_json
from cratefile.context import RunContext
from cratefile.errors import SinkError
from cratefile.records import AnalysisResult, Sidecar

if TYPE_CHECKING:
    import numpy as np


class _Folders:
    """Eagle folder ids by path, looked up or created once per run."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, client: Any, path: str) -> str:
        with self.lock:
            if path not in self.ids:
                self.ids[path] = client.ensure_folder(path)
            return self.ids[path]


class _Down:
    """Eagle's one-line "not running" message, once seen in this run."""

    def __init__(self) -> None:
        self.message: str | None = None


def eagle_tags(analysis: AnalysisResult, playlists: list[str]) -> list[str]:
    tags = [f"playlist:{p}" for p in playlists]
    if analysis.bpm:
        tags.append(f"bpm:{round(float(analysis.bpm))}")
    if analysis.musical_key:
        tags += [f"key:{analysis.musical_key}", f"camelot:{key_in_notation(analysis.musical_key, 'camelot')}"]
    return tags


def _fingerprint(ctx: RunContext, key: str) -> np.ndarray | None:
    """The track's Chromaprint items, from its quality record (cratefile.quality)."""
    from cratefile.quality.record import read_record

    record = read_record(ctx.layout, key)
    return record.items() if record is not None else None


@action("Eagle", scope="sink")
def run_eagle(ctx: RunContext, key: str, fmt: str, config: Any, path: str, playlists: list[str],
              fingerprint: str) -> None:
    from cratefile.sinks.eagle.client import EagleClient, EagleError, EagleUnavailable
    from cratefile.sinks.eagle.reuse import Wanted, held_item

    down = ctx.shared("eagle-down", _Down)
    if down.message:
        raise SinkError(down.message)
    sidecar = Sidecar.from_json(read_json(ctx.layout.sidecar(key)))
    analysis = AnalysisResult.from_json(read_json(ctx.layout.analysis(key))) or AnalysisResult()
    client = ctx.shared("eagle", lambda: EagleClient(config.api_url))
    folders = ctx.shared("eagle-folders", _Folders)
    row = ctx.catalog.track(key) or {}
    known = json.loads(row.get("eagle_ids") or "{}")
    artist = sidecar.artist if sidecar else None
    wanted = Wanted(title=sidecar.title if sidecar else None, artist=artist,
                    duration=analysis.duration or (sidecar.duration if sidecar else None),
                    ext=Path(path).suffix, fingerprint=lambda: _fingerprint(ctx, key))
    try:
        folder_ids = [folders.get(client, config.folder.format(playlist=name)) for name in playlists]
        item_id = client.sync_file(
            Path(path), key=key, name=Path(path).stem, url=sidecar.url if sidecar else None,
            tags=([f"artist:{artist}"] if artist else []) + eagle_tags(analysis, playlists),
            annotation=None, folder_ids=folder_ids, known_item_id=known.get(fmt), fingerprint=fingerprint,
            held=lambda: held_item(client, wanted),  # the user's library may hold it already
        )
    except EagleUnavailable as exc:
        down.message = str(exc)
        raise SinkError(str(exc)) from exc
    except EagleError as exc:
        raise SinkError(str(exc)) from exc
    known[fmt] = item_id
    ctx.catalog.set_eagle_ids(key, known)
