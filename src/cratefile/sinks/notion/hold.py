"""Processing locks on Notion pages, so several machines can build from one database.

Before a track that has a Notion page is downloaded, this run takes the page's processing
lock (written, re-read and verified by the mirror); a page another builder holds is skipped
this run (`locked_elsewhere`, retried next run). The run releases its locks when it ends;
a lock left by a killed run expires (30 minutes by default, or `cratefile notion unlock
--stale`). Without the lock property in the database, locking is off.
"""

from __future__ import annotations

import threading
from typing import Any

from cratefile.context import RunContext
from cratefile.errors import CatalogError, Category, TrackFailure


class _Held:
    def __init__(self) -> None:
        self.pages: set[str] = set()
        self.lock = threading.Lock()


def _mirror_and_owner(ctx: RunContext) -> tuple[Any, Any]:
    from cratefile.sinks.notion.mirror import LockOwner, NotionMirror

    config = ctx.manifest.sink("notion")
    assert config is not None
    return ctx.shared("notion", lambda: NotionMirror(config)), ctx.shared("notion-owner", LockOwner.current)


def take(ctx: RunContext, key: str) -> None:
    """Hold the processing lock of the track's page, or raise TrackFailure(LOCKED_ELSEWHERE)."""
    if ctx.manifest.sink("notion") is None:
        return
    page_id = (ctx.catalog.track(key) or {}).get("notion_page_id")
    if not page_id:
        return
    mirror, owner = _mirror_and_owner(ctx)
    try:
        acquired = mirror.acquire_lock(page_id, owner)
    except CatalogError as exc:
        raise TrackFailure(Category.TRANSIENT, f"Notion lock of page {page_id}: {exc}") from exc
    if not acquired:
        raise TrackFailure(Category.LOCKED_ELSEWHERE, f"Notion page {page_id} is being built by another machine")
    held = ctx.shared("notion-held", _Held)
    with held.lock:
        held.pages.add(page_id)


def release_all(ctx: RunContext) -> None:
    """Release every lock this run took (called once, at the end of the run)."""
    held = ctx.shared("notion-held", _Held)
    with held.lock:
        pages = sorted(held.pages)
        held.pages.clear()
    if not pages:
        return
    mirror, owner = _mirror_and_owner(ctx)
    for page_id in pages:
        try:
            mirror.release_lock(page_id, owner)
        except CatalogError as exc:  # the lock expires on its own; say so and go on
            ctx.sink_failed("Notion", f"could not release the lock of page {page_id} ({exc}); it expires by itself")
