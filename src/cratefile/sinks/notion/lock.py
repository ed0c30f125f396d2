"""Processing locks on Notion pages, so several machines can build from one database.

Notion has no compare-and-swap, so a lock is Fischer's timed mutual exclusion over a text
property: read the lock (free or stale?), write `PID:HOST:UUID:TIMESTAMP`, wait `settle`
seconds, re-read, and own the page only if our token is still there. It is safe as long as
every contender's read-to-write gap is under `settle`; each contender measures its own gap
(from sending the read to the write's answer) and backs off when it was longer, leaving its
token to expire rather than clearing a lock another builder may now rely on.

`claim` is what a build uses: the lock plus a look at the page itself, so a page another
machine built already (it says so: Downloaded, file paths) is neither locked nor built again.
The page is looked at when it is first read and again once the lock is ours: the verifying
read is that re-read, one GET of the page after our token was written.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cratefile.sinks.notion.api import NotionApi, NotionTuning
from cratefile.sinks.notion.schema import SchemaReport
from cratefile.sinks.notion.values import decode, encode

log = logging.getLogger(__name__)

Claim = Literal["held", "locked", "built"]  # ours now / another builder's / done already


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: one per builder (process, or thread acting as a builder)."""

    pid: int
    host: str
    token: str  # uuid4 hex, unique per owner

    @classmethod
    def current(cls) -> LockOwner:
        return cls(os.getpid(), socket.gethostname() or "localhost", uuid.uuid4().hex)

    def stamp(self, at: float) -> str:
        return f"{self.pid}:{self.host}:{self.token}:{int(at)}"

    def holds(self, lock: LockValue | None) -> bool:
        return lock is not None and (lock.pid, lock.host, lock.token) == (self.pid, self.host, self.token)


@dataclass(frozen=True)
class LockValue:
    pid: int
    host: str
    token: str
    timestamp: float


def parse_lock(text: str | None) -> LockValue | None:
    """`PID:HOST:UUID:TIMESTAMP` -> LockValue; None for empty or unreadable text. The host
    may itself contain colons (an IPv6 literal), so PID is the first field and the UUID and
    timestamp the last two."""
    if not text:
        return None
    parts = text.strip().split(":")
    if len(parts) < 4:
        return None
    try:
        return LockValue(int(parts[0]), ":".join(parts[1:-2]), parts[-2], float(parts[-1]))
    except ValueError:
        return None


class PageLocks:
    def __init__(
        self,
        api: NotionApi,
        report: SchemaReport,
        tuning: NotionTuning,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.report = report
        self.tuning = tuning
        self.clock = clock
        self.sleep = sleep
        self.prop = report.name("lock")

    def is_stale(self, lock: LockValue | None, stale_after: float | None = None) -> bool:
        """Unreadable text counts as stale: it cannot be a live cratefile lock."""
        limit = self.tuning.stale_after if stale_after is None else stale_after
        return lock is None or self.clock() - lock.timestamp > limit

    def _read(self, page_id: str) -> str:
        return self._lock_text(self.api.retrieve_page(page_id))

    def _lock_text(self, page: Mapping[str, Any]) -> str:
        assert self.prop is not None
        return decode((page.get("properties") or {}).get(self.prop)) or ""

    def _write(self, page_id: str, text: str) -> None:
        assert self.prop is not None
        self.api.update_page(page_id, properties={self.prop: encode("rich_text", text)},
                             sent={self.prop: text})

    def acquire(self, page_id: str, owner: LockOwner) -> bool:
        return self.claim(page_id, owner) == "held"

    def claim(self, page_id: str, owner: LockOwner,
              built: Callable[[Mapping[str, Any]], bool] | None = None) -> Claim:
        """Take the page's lock unless another builder holds it ("locked") or, with `built`,
        the page says its track is built already ("built": no lock is left behind). Without
        a lock property only `built` is looked at (one GET; none without `built`)."""
        if self.prop is None:  # locking is off; check_schema said so once
            if built is not None and built(self.api.retrieve_page(page_id)):
                return "built"
            return "held"
        settle = self.tuning.lock_settle
        started = time.monotonic()
        page = self.api.retrieve_page(page_id)
        if built is not None and built(page):
            return "built"  # done elsewhere, whoever holds it: nothing to lock
        current = self._lock_text(page)
        held = parse_lock(current)
        if current and not owner.holds(held) and not self.is_stale(held):
            return "locked"
        mine = owner.stamp(self.clock())
        self._write(page_id, mine)
        if owner.holds(held):
            return "held"  # a refresh of our own lock: nobody else can be inside
        gap = time.monotonic() - started
        if gap > settle:
            # Another builder may have verified its own token in the meantime and we may just
            # have overwritten it: do not enter, and leave our token to go stale.
            log.warning("notion lock on %s: read-to-write took %.1fs (> %.1fs); skipping the page",
                        page_id, gap, settle)
            return "locked"
        self.sleep(settle)
        page = self.api.retrieve_page(page_id)  # the re-read: is the token ours, is the page still to do?
        if self._lock_text(page) != mine:
            return "locked"
        if built is not None and built(page):
            # built while we waited (a builder whose lock had gone stale): let go at once
            self._write(page_id, "")
            return "built"
        return "held"

    def release(self, page_id: str, owner: LockOwner) -> bool:
        """Clear the lock if it is ours; True if it was."""
        if self.prop is None:
            return True
        if not owner.holds(parse_lock(self._read(page_id))):
            return False
        self._write(page_id, "")
        return True

    def unlock_stale(self, stale_after: float | None = None) -> int:
        """Clear every lock older than `stale_after` (default: the tuning's). Returns how many."""
        if self.prop is None:
            return 0
        typ = self.report.type("lock") or "rich_text"
        flt = {"property": self.prop, typ: {"is_not_empty": True}}
        cleared = 0
        for page in list(self.api.query(self.report.data_source_id, filter=flt)):
            text = decode((page.get("properties") or {}).get(self.prop))
            if text and self.is_stale(parse_lock(text), stale_after):
                self._write(page["id"], "")
                cleared += 1
        return cleared
