"""Processing locks on Notion pages, so several machines can build from one database.

Before a track that has a Notion page is downloaded, this run takes the page's processing
lock (written, re-read and verified by the mirror); a page another builder holds is skipped
this run (`locked_elsewhere`, retried next run). The page is read before the lock is taken
and re-read once it is ours: a page that says its track is built (Downloaded, file paths)
while this machine never built it is skipped too (`built_elsewhere`), without downloading
and without keeping a lock. Neither is a failure: the report counts them apart, the exit
code ignores them, nothing waits for a cool-off, and the Notion sync leaves those pages to
the machine that has them (step.py). The run releases its locks when it ends; a lock left
by a killed run expires (30 minutes by default, or `cratefile notion unlock --stale`).
Without the lock property in the database, locking is off (the built check still holds).
Local files are never locked: their pages mirror one machine's files, they are no queue.
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


def is_local(key: str, url: str | None) -> bool:
    """A local file's track (folder source): keyed `local <hash>`, its URL a file URI."""
    return key.startswith("local ") or (url or "").startswith("file:")


def take(ctx: RunContext, key: str) -> None:
    """Hold the processing lock of the track's page, or raise TrackFailure(LOCKED_ELSEWHERE)
    when another builder holds it, TrackFailure(BUILT_ELSEWHERE) when the page says another
    machine built the track already."""
    if ctx.manifest.sink("notion") is None:
        return
    row = ctx.catalog.track(key) or {}
    page_id = row.get("notion_page_id")
    if not page_id or is_local(key, row.get("url")):
        return
    from cratefile.sinks.notion.step import tell_schema

    mirror, owner = _mirror_and_owner(ctx)
    built_here = bool(ctx.catalog.files_of(key))  # its own page says built: a rebuild here
    try:
        claim = mirror.claim_page(page_id, owner, check_built=not built_here)
        tell_schema(ctx, mirror.schema())
    except CatalogError as exc:
        raise TrackFailure(Category.TRANSIENT, f"Notion lock of page {page_id}: {exc}") from exc
    # one message per kind, so the run's output says it once however many tracks it concerns
    if claim == "locked":
        raise TrackFailure(Category.LOCKED_ELSEWHERE, "being built by another machine (its Notion page is "
                           "locked; retried next run)")
    if claim == "built":
        raise TrackFailure(Category.BUILT_ELSEWHERE, "built by another machine (its Notion page says so); "
                           "not downloaded here")
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
