"""One sync of tracks into the Notion data source: read every page once, then create what is
missing and patch only what changed. No duplicates, ever:

- pages are matched by the page id the catalog recorded, then by normalized source URL;
- a recorded page id is trusted even when the (eventually consistent) query does not list it
  yet: the page is fetched directly instead of being created again;
- `on_page_id` is called the moment a page is created, so a crash cannot forget it;
- a create that timed out or got a 5xx may have happened: it is parked, and after `settle`
  seconds (time enough for the page to show up in queries) re-checked by URL before it is
  sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx
from notion_client.errors import NotionClientErrorBase

from cratefile.errors import CatalogError
from cratefile.sinks.notion.api import NotionApi, NotionNotFound, is_ambiguous
from cratefile.sinks.notion.schema import SchemaReport
from cratefile.sinks.notion.values import (
    NotionTrack,
    changed,
    decode,
    normalize_url,
    payload,
    track_values,
)

log = logging.getLogger(__name__)


@dataclass
class SyncStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    rate_limited: int = 0  # 429 and 529 answers
    rechecked: int = 0  # ambiguous creates looked up again before resending
    adopted: int = 0  # ... of which the page turned out to exist (counted in `created` too)
    duplicates_seen: int = 0  # source URLs held by several pages (see `dedupe`)


def canon(page_id: str) -> str:
    return page_id.replace("-", "").lower()


def created_order(page: dict[str, Any]) -> tuple[str, str]:
    return (str(page.get("created_time", "")), str(page.get("id", "")))


@dataclass
class _Doubtful:
    track: NotionTrack
    wanted: dict[str, tuple[str, Any]]
    failed_at: float  # time.monotonic()
    tries: int


class Syncer:
    def __init__(
        self,
        api: NotionApi,
        report: SchemaReport,
        on_page_id: Callable[[str, str], None],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.report = report
        self.tuning = api.tuning
        self.on_page_id = on_page_id
        self.sleep = sleep
        self.stats = SyncStats()
        self._lock = threading.Lock()
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._claimed: set[str] = set()
        self._doubtful: list[_Doubtful] = []
        self._stop = threading.Event()

    # ---- entry point -----------------------------------------------------------------------
    def run(self, tracks: Sequence[NotionTrack]) -> SyncStats:
        before = (self.api.requests, self.api.retries, self.api.rate_limited)
        try:
            self._index(tracks)
            self._in_workers(tracks)
            self._resolve_doubtful()
        finally:
            self.stats.requests = self.api.requests - before[0]
            self.stats.retries = self.api.retries - before[1]
            self.stats.rate_limited = self.api.rate_limited - before[2]
        return self.stats

    def _index(self, tracks: Sequence[NotionTrack]) -> None:
        for page in self.api.query(self.report.data_source_id):
            self._by_id[canon(page["id"])] = page
            url = self._page_url(page)
            if url:
                self._by_url[url].append(page)
        for pages in self._by_url.values():
            pages.sort(key=created_order)
        self.stats.duplicates_seen = sum(1 for pages in self._by_url.values() if len(pages) > 1)
        if self.stats.duplicates_seen:
            log.warning("notion: %d source URLs have several pages; `cratefile notion dedupe` merges them",
                        self.stats.duplicates_seen)
        # A recorded page belongs to its track: no other track may take it over by URL.
        self._claimed = {canon(t.page_id) for t in tracks if t.page_id}

    def _page_url(self, page: dict[str, Any]) -> str:
        name = self.report.name("source_url")
        if name is None:
            return ""
        return normalize_url(decode((page.get("properties") or {}).get(name)))

    def _in_workers(self, tracks: Sequence[NotionTrack]) -> None:
        workers = max(1, self.tuning.workers)
        if workers == 1 or len(tracks) <= 1:
            for track in tracks:
                self._sync_one(track)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notion") as pool:
            futures = [pool.submit(self._sync_one, t) for t in tracks]
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                self._stop.set()  # the queued tracks return at once; the error is raised below
                for f in futures:
                    f.cancel()
                raise failed.exception()  # type: ignore[misc]

    # ---- one track -------------------------------------------------------------------------
    def _sync_one(self, track: NotionTrack) -> None:
        if self._stop.is_set():
            return
        wanted = track_values(track, self.report)
        page = self._resolve(track)
        if page is None:
            self._create(track, wanted, tries=1)
            return
        if track.page_id is None or canon(track.page_id) != canon(page["id"]):
            self._record(track.key, page["id"])
        diff = changed(page, wanted)
        if not diff:
            with self._lock:
                self.stats.unchanged += 1
            return
        self.api.update_page(page["id"], properties=payload(diff),
                             sent={n: v for n, (_t, v) in diff.items()})
        with self._lock:
            self.stats.updated += 1

    def _resolve(self, track: NotionTrack) -> dict[str, Any] | None:
        if track.page_id:
            page = self._by_id.get(canon(track.page_id))
            if page is None:
                # Not listed (yet): queries are eventually consistent, the id is the truth.
                try:
                    page = self.api.retrieve_page(track.page_id)
                except NotionNotFound:
                    page = None
                if page is not None and (page.get("in_trash") or page.get("archived")):
                    page = None  # trashed since (by dedupe or by hand): fall back to the URL
            if page is not None:
                return page
        with self._lock:
            for page in self._by_url.get(normalize_url(track.source_url), []):
                if canon(page["id"]) not in self._claimed:
                    self._claimed.add(canon(page["id"]))
                    return page
        return None

    def _record(self, key: str, page_id: str) -> None:
        with self._lock:  # callers persist to SQLite: one at a time
            self.on_page_id(key, page_id)

    def _create(self, track: NotionTrack, wanted: dict[str, tuple[str, Any]], tries: int) -> None:
        try:
            page = self.api.create_page(
                self.report.data_source_id,
                payload(wanted, skip_empty=True),
                sent={n: v for n, (_t, v) in wanted.items()},
            )
        except (NotionClientErrorBase, httpx.HTTPError) as exc:
            if not is_ambiguous(exc):
                raise self.api.translate("create a page", exc) from exc
            log.info("notion: create for %s is in doubt (%s); re-checking later",
                     track.key, self.api.describe(exc))
            with self._lock:
                self._doubtful.append(_Doubtful(track, wanted, time.monotonic(), tries))
            return
        with self._lock:
            self._claimed.add(canon(page["id"]))
            self.on_page_id(track.key, page["id"])
            self.stats.created += 1

    # ---- creates in doubt ------------------------------------------------------------------
    def _resolve_doubtful(self) -> None:
        while self._doubtful:
            self._doubtful.sort(key=lambda d: d.failed_at)
            item = self._doubtful.pop(0)
            pause = item.failed_at + self.tuning.settle - time.monotonic()
            if pause > 0:
                self.sleep(pause)
            with self._lock:
                self.stats.rechecked += 1
            page = self._lookup(item)
            if page is not None:
                with self._lock:
                    self._claimed.add(canon(page["id"]))
                    self.on_page_id(item.track.key, page["id"])
                    self.stats.created += 1
                    self.stats.adopted += 1
                diff = changed(page, item.wanted)
                if diff:
                    self.api.update_page(page["id"], properties=payload(diff),
                                         sent={n: v for n, (_t, v) in diff.items()})
                continue
            if item.tries >= self.tuning.attempts:
                raise CatalogError(
                    f"Notion: could not create the page of {item.track.key} after {item.tries} tries"
                )
            self._create(item.track, item.wanted, tries=item.tries + 1)

    def _lookup(self, item: _Doubtful) -> dict[str, Any] | None:
        """The page an in-doubt create may have made: same source URL, not claimed."""
        name = self.report.name("source_url")
        typ = self.report.type("source_url")
        if name is None or typ is None:
            return None
        _t, sent_url = item.wanted[name]
        flt = {"property": name, typ: {"equals": sent_url}}
        found = sorted(self.api.query(self.report.data_source_id, filter=flt), key=created_order)
        with self._lock:
            return next((p for p in found if canon(p["id"]) not in self._claimed), None)
