"""The Notion mirror of the catalog, and Notion as a source of tracks to build.

`NotionMirror` is the one object the rest of cratefile uses: `check_schema` / `init_schema`
(notion_schema), `sync` (notion_sync), `dedupe` (notion_dedupe), `pending_pages` (Notion as a
source), and processing locks (notion_lock). Every call goes through one `NotionApi`: the real
notion-client SDK, a shared rate limiter (about 3 requests/s), our retries and our errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Self

import httpx

from cratefile.errors import CatalogError
from cratefile.net import RateLimiter
from cratefile.sinks.notion.api import (
    DEFAULT_TUNING,
    NotionApi,
    NotionTuning,
    NotionValidationError,
)
from cratefile.sinks.notion.config import NotionConfig
from cratefile.sinks.notion.dedupe import DedupeGroup, run_dedupe
from cratefile.sinks.notion.lock import Claim, LockOwner, PageLocks
from cratefile.sinks.notion.schema import (
    NotionSchemaError,
    SchemaReport,
    creation_spec,
    property_map,
    read_report,
)
from cratefile.sinks.notion.sync import Syncer, SyncStats, created_order
from cratefile.sinks.notion.values import NotionTrack, decode, normalize_url

__all__ = [
    "Claim",
    "DedupeGroup",
    "LockOwner",
    "NotionMirror",
    "NotionSchemaError",
    "NotionTrack",
    "NotionTuning",
    "NotionValidationError",
    "PendingPage",
    "SchemaReport",
    "SyncStats",
    "normalize_url",
]

log = logging.getLogger(__name__)

PendingFilter = Literal["unprocessed", "all", "missing_eagle"]


class PendingPage(NamedTuple):
    page_id: str
    source_url: str
    title: str | None
    artist: str | None


class NotionMirror:
    def __init__(
        self,
        config: NotionConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        tuning: NotionTuning = DEFAULT_TUNING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.tuning = tuning
        self._map = property_map(config.properties)
        self._api = NotionApi(config, transport=transport, limiter=limiter, tuning=tuning)
        self._clock = clock
        self._report: SchemaReport | None = None
        self._told_no_lock = False

    def __repr__(self) -> str:
        return f"NotionMirror(database={self.config.database!r}, api_url={self.config.api_url!r})"

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests(self) -> int:
        """HTTP requests this mirror has sent so far (retries included)."""
        return self._api.requests

    # ---- schema ----------------------------------------------------------------------------
    def _read_schema(self) -> SchemaReport:
        database = self._api.retrieve_database(self.config.database)
        sources = database.get("data_sources") or []
        if not sources:
            raise CatalogError(f"Notion database {self.config.database} has no data source")
        if len(sources) > 1:
            log.info("notion: database has %d data sources; using the first (%s)",
                     len(sources), sources[0].get("name") or sources[0]["id"])
        data_source = self._api.retrieve_data_source(sources[0]["id"])
        explicit = {our_field for our_field, _name in self.config.properties}
        return read_report(str(database.get("id", self.config.database)), data_source, self._map,
                           explicit=explicit)

    def check_schema(self) -> SchemaReport:
        """Read the schema once; raise NotionSchemaError naming every misfit property."""
        report = self._read_schema()
        problems = report.problems()
        if problems:
            raise NotionSchemaError("Notion database does not fit the property map:\n  " + "\n  ".join(problems))
        if not report.locking and not self._told_no_lock:
            self._told_no_lock = True
            name = self._map.get("lock")
            where = f"no lock property {name!r} in the database" if name else "the lock property is not mapped"
            log.warning("notion: %s: processing locks are off", where)
        self._report = report
        return report

    def init_schema(self) -> list[str]:
        """Add the mapped properties the database lacks; return their names. Existing
        properties are never changed, so a type mismatch still raises afterwards."""
        report = self._read_schema()
        add = {}
        for our_field, name in report.missing:
            if our_field == "title":
                continue  # a data source has exactly one title property; problems() explains
            add[name] = creation_spec(our_field)
        if add:
            self._api.update_data_source(report.data_source_id, add)
        self.check_schema()
        return list(add)

    def _schema(self) -> SchemaReport:
        return self._report if self._report is not None else self.check_schema()

    def schema(self) -> SchemaReport:
        """The schema report, read (and checked) once per mirror."""
        return self._schema()

    # ---- mirror ----------------------------------------------------------------------------
    def sync(self, tracks: Sequence[NotionTrack], *, on_page_id: Callable[[str, str], None]) -> SyncStats:
        """Upsert one page per track. `on_page_id(key, page_id)` is called (serialized) as
        soon as a track's page is created or found under another id than recorded."""
        stats = Syncer(self._api, self._schema(), on_page_id).run(tracks)
        log.info("notion sync: %s", stats)
        return stats

    def dedupe(self, dry_run: bool, aliases: Mapping[str, str] | None = None) -> list[DedupeGroup]:
        """Merge duplicate pages; `aliases`: acoustic duplicates' source URLs -> the kept one's."""
        return run_dedupe(self._api, self._schema(), dry_run=dry_run, aliases=aliases)

    # ---- Notion as a source ----------------------------------------------------------------
    def pending_pages(self, filter: PendingFilter = "unprocessed") -> list[PendingPage]:
        """Pages with a source URL to build: `unprocessed` (not downloaded), `all`, or
        `missing_eagle` (no Eagle id yet). Oldest first."""
        report = self._schema()
        url_name, url_type = report.name("source_url"), report.type("source_url")
        if url_name is None or url_type is None:
            raise CatalogError("Notion as a source needs the source_url property mapped")
        clauses: list[dict[str, Any]] = [{"property": url_name, url_type: {"is_not_empty": True}}]
        if filter == "unprocessed":
            clauses.append(self._clause(report, "downloaded", {"equals": False}))
        elif filter == "missing_eagle":
            clauses.append(self._clause(report, "eagle_id", {"is_empty": True}))
        elif filter != "all":
            raise CatalogError(f"unknown Notion source filter {filter!r} (unprocessed, all, missing_eagle)")
        flt = clauses[0] if len(clauses) == 1 else {"and": clauses}
        sorts = [{"timestamp": "created_time", "direction": "ascending"}]
        out = []
        pages = sorted(self._api.query(report.data_source_id, filter=flt, sorts=sorts), key=created_order)
        for page in pages:
            props = page.get("properties") or {}

            def text(our_field: str, props: dict[str, Any] = props) -> str | None:
                name = report.name(our_field)
                return (decode(props.get(name)) or None) if name else None

            url = text("source_url")
            if url:
                out.append(PendingPage(page["id"], url.strip(), text("title"), text("artist")))
        return out

    @staticmethod
    def _clause(report: SchemaReport, our_field: str, condition: dict[str, Any]) -> dict[str, Any]:
        name, typ = report.name(our_field), report.type(our_field)
        if name is None or typ is None:
            raise CatalogError(f"this Notion source filter needs the {our_field} property mapped")
        return {"property": name, typ: condition}

    # ---- locks -----------------------------------------------------------------------------
    def _locks(self) -> PageLocks:
        return PageLocks(self._api, self._schema(), self.tuning, clock=self._clock)

    def acquire_lock(self, page_id: str, owner: LockOwner) -> bool:
        """True if `owner` now holds the page (always True when locking is off)."""
        return self._locks().acquire(page_id, owner)

    def claim_page(self, page_id: str, owner: LockOwner, *, check_built: bool = True) -> Claim:
        """Before building a page's track: "held" (the lock is ours, or locking is off),
        "locked" (another builder holds it) or "built" (the page says its track is built:
        Downloaded checked, or file paths when there is no Downloaded property). The page is
        read first and re-read once the lock is ours; a page found built is not left locked.
        `check_built=False` for a track this machine built before (its own page says built)."""
        report = self._schema()
        return self._locks().claim(page_id, owner, report.built if check_built else None)

    def release_lock(self, page_id: str, owner: LockOwner) -> bool:
        return self._locks().release(page_id, owner)

    def unlock_stale(self, stale_after: float | None = None) -> int:
        return self._locks().unlock_stale(stale_after)
