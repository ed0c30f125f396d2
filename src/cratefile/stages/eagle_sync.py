"""eagle:<key>:<format> — import a built file into Eagle, once, in its playlists' folders.

The Eagle item id is recorded in the catalog (`eagle_ids`, per format). Eagle not running is
said once per run; every Eagle task then fails fast so the step is retried next run, while
the rest of the build goes on.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from cratefile.atomic import read_json
from cratefile.engine.context import RunContext
from cratefile.analysis.key import key_in_notation



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


def eagle_tags(analysis: dict[str, Any], playlists: list[str]) -> list[str]:
    tags = [f"playlist:{p}" for p in playlists]
    if analysis.get("bpm"):
        tags.append(f"bpm:{round(float(analysis['bpm']))}")
    if analysis.get("key"):
        tags += [f"key:{analysis['key']}", f"camelot:{key_in_notation(analysis['key'], 'camelot')}"]
    return tags


def run_eagle(ctx: RunContext, key: str, fmt: str, path: str, playlists: list[str], fingerprint: str) -> TaskFailed | bool:
    from cratefile.sinks.eagle import EagleError, EagleUnavailable

    config = ctx.manifest.eagle
    assert config is not None
    if ctx.eagle_down:
        return TaskFailed(ctx.eagle_down)
    sidecar = read_json(ctx.layout.sidecar(key)) or {}
    analysis = read_json(ctx.layout.analysis(key)) or {}
    from cratefile.sinks.eagle import EagleClient

    client = ctx.shared("eagle", lambda: EagleClient(config.api_url))
    folders = ctx.shared("eagle-folders", _Folders)
    row = ctx.catalog.track(key) or {}
    known = json.loads(row.get("eagle_ids") or "{}")
    try:
        folder_ids = [folders.get(client, config.folder.format(playlist=name)) for name in playlists]
        artist = sidecar.get("artist")
        item_id = client.sync_file(
            Path(path), key=key, name=Path(path).stem, url=sidecar.get("url"),
            tags=([f"artist:{artist}"] if artist else []) + eagle_tags(analysis, playlists),
            annotation=None, folder_ids=folder_ids, known_item_id=known.get(fmt), fingerprint=fingerprint,
        )
    except EagleUnavailable as exc:
        ctx.eagle_down = str(exc)
        return TaskFailed(str(exc))
    except EagleError as exc:
        return TaskFailed(f"Eagle: {exc}")
    known[fmt] = item_id
    ctx.catalog.set_eagle_ids(key, known)
    return True
