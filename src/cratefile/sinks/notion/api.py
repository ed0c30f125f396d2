"""The Notion API as the mirror uses it: the real notion-client SDK behind our retries, our
rate limiter and our errors.

The SDK is built with `retry=False` (its own retries would not share our limiter and would
resend 500s on creates), `base_url=config.api_url` and an httpx client from `net.make_client`,
whose transport takes a slot of the shared `RateLimiter` for every request, retries included.
Third-party errors are translated here, with the cause attached, into `CatalogError`s; the
token never appears in them, in logs, or in reprs.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
import notion_client
from notion_client.errors import (
    HTTPResponseError,
    NotionClientErrorBase,
    RequestTimeoutError,
)

from cratefile.errors import CatalogError
from cratefile.net import (
    PAUSING_STATUSES,
    USER_AGENT,
    RateLimiter,
    limited_transport,
    limiter,
    make_client,
    parse_retry_after,
    retrying,
)
from cratefile.sinks.notion.config import NotionConfig

log = logging.getLogger(__name__)
# The SDK's own logger would otherwise add a console handler per client and warn on every
# 429 we are about to handle; ours stays quiet unless asked.
_sdk_log = logging.getLogger("cratefile.notion.sdk")

T = TypeVar("T")

NOTION_VERSION = "2025-09-03"
TRANSIENT_STATUSES = frozenset({409, 429, 500, 502, 503, 504, 529})


def default_limiter(api_url: str) -> RateLimiter:
    """The process-wide limiter for one API: Notion's budget is per integration, so every
    mirror and worker of the process shares it (about 3 requests/s on average)."""
    return limiter(f"notion {api_url}", lambda: RateLimiter(3.0, burst=1))


@dataclass(frozen=True)
class NotionTuning:
    """Timeouts and retry pacing; tests shrink them."""

    timeout: float = 30.0  # seconds per request
    attempts: int = 8  # calls per request in all, for transient errors
    base_delay: float = 1.0  # first backoff, doubled per attempt, with jitter
    max_delay: float = 30.0
    settle: float = 10.0  # how long a new page may stay invisible to queries
    workers: int = 3  # threads writing pages (they share the limiter)
    lock_settle: float = 3.0  # wait between writing a lock and verifying it
    stale_after: float = 30 * 60.0  # a lock older than this is abandoned


DEFAULT_TUNING = NotionTuning()


class NotionValidationError(CatalogError):
    """Notion refused a value (400 validation_error). Not retried."""

    def __init__(self, message: str, *, prop: str | None, value: Any, notion_message: str) -> None:
        super().__init__(message)
        self.prop = prop
        self.value = value
        self.notion_message = notion_message


class NotionNotFound(CatalogError):
    """404 object_not_found: missing, or not shared with the integration."""


def status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, HTTPResponseError) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (RequestTimeoutError, httpx.TransportError)):
        return True
    return status_of(exc) in TRANSIENT_STATUSES


def is_safe_to_resend(exc: BaseException) -> bool:
    """Transient, and certainly not applied: 409/429/529 reject, a refused connection never
    reached the server. Timeouts and other 5xx may have created the page."""
    if isinstance(exc, httpx.ConnectError):
        return True
    return status_of(exc) in (409, 429, 529)


def is_ambiguous(exc: BaseException) -> bool:
    return is_transient(exc) and not is_safe_to_resend(exc)


def retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, HTTPResponseError) and exc.status in PAUSING_STATUSES:
        told = parse_retry_after(exc.headers.get("retry-after"))
        return 1.0 if told is None else told
    return None


class NotionApi:
    """One SDK client with our transport, limiter, retries and error translation."""

    def __init__(
        self,
        config: NotionConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        tuning: NotionTuning = DEFAULT_TUNING,
    ) -> None:
        self.config = config
        self.tuning = tuning
        self.api_url = config.api_url.rstrip("/")
        token = config.token if config.token is not None else os.environ.get(config.token_env)
        if not token:
            raise CatalogError(
                f"Notion token not set: export it in the environment variable {config.token_env}"
            )
        self._token = token
        self.limiter = limiter if limiter is not None else default_limiter(self.api_url)
        self._http = make_client(
            self.api_url, timeout=tuning.timeout, transport=transport, limiter=self.limiter
        )
        self._sdk = notion_client.Client(
            client=self._http,
            auth=token,
            base_url=self.api_url,
            timeout_ms=int(tuning.timeout * 1000),
            notion_version=NOTION_VERSION,
            retry=False,
            logger=_sdk_log,
            log_level=logging.ERROR,
        )
        # The SDK replaces the client's headers with its own; keep our User-Agent.
        self._sdk.client.headers["User-Agent"] = USER_AGENT
        self._counter_lock = threading.Lock()
        self.retries = 0

    def __repr__(self) -> str:
        return f"NotionApi({self.api_url!r}, database={self.config.database!r})"

    def close(self) -> None:
        self._http.close()

    # ---- statistics ------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return limited_transport(self._http).requests

    @property
    def rate_limited(self) -> int:
        return limited_transport(self._http).rate_limited

    def _count_retry(self, exc: BaseException, delay: float) -> None:
        with self._counter_lock:
            self.retries += 1
        log.info("notion: retrying after %s in %.2fs", self.describe(exc), delay)

    # ---- calls -----------------------------------------------------------------------------
    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        sent: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> T:
        """Run one SDK call with retries on transient errors; translate what escapes.

        `sent` ({property: value}) lets a validation error name the property and value.
        A non-idempotent call is retried only on failures that certainly changed nothing;
        its ambiguous failures (timeout, 5xx) escape raw for the caller to re-check.
        """
        transient = is_transient if idempotent else is_safe_to_resend
        try:
            return retrying(
                fn,
                is_transient=transient,
                retry_after=retry_after,
                attempts=self.tuning.attempts,
                base_delay=self.tuning.base_delay,
                max_delay=self.tuning.max_delay,
                on_retry=self._count_retry,
            )
        except (NotionClientErrorBase, httpx.HTTPError) as exc:
            if not idempotent and is_ambiguous(exc):
                raise
            raise self.translate(what, exc, sent) from exc

    def scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, HTTPResponseError):
            code = exc.code.value if hasattr(exc.code, "value") else exc.code
            body = exc.body if exc.code == "notionhq_client_response_error" else str(exc)
            return self.scrub(f"{exc.status} {code}: {body[:200]}")
        if isinstance(exc, RequestTimeoutError):
            return f"timeout after {self.tuning.timeout:g}s"
        return self.scrub(f"{type(exc).__name__}: {exc}")

    def translate(self, what: str, exc: BaseException, sent: Mapping[str, Any] | None = None) -> CatalogError:
        status = status_of(exc)
        detail = self.describe(exc)
        if status == 400 and getattr(exc, "code", None) == "validation_error":
            message = self.scrub(str(exc))
            prop = _named_property(message, sent or {})
            value = (sent or {}).get(prop) if prop else None
            shown = repr(value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            where = f"property {prop!r} = {shown}" if prop else "a value"
            return NotionValidationError(
                f"Notion refused {where} while trying to {what}: {message}",
                prop=prop, value=value, notion_message=message,
            )
        if status == 401:
            return CatalogError(
                f"Notion refused the token (401) while trying to {what}: check {self.config.token_env}"
            )
        if status == 404:
            return NotionNotFound(
                f"Notion could not {what}: not found, or not shared with the integration ({detail})"
            )
        return CatalogError(f"Notion could not {what}: {detail}")

    # ---- endpoints -------------------------------------------------------------------------
    def retrieve_database(self, database_id: str) -> dict[str, Any]:
        return self.call(f"read database {database_id}",
                         lambda: _json(self._sdk.databases.retrieve(database_id=database_id)))

    def retrieve_data_source(self, ds_id: str) -> dict[str, Any]:
        return self.call(f"read data source {ds_id}",
                         lambda: _json(self._sdk.data_sources.retrieve(data_source_id=ds_id)))

    def update_data_source(self, ds_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        return self.call(
            f"change the schema of data source {ds_id}",
            lambda: _json(self._sdk.data_sources.update(data_source_id=ds_id, properties=dict(properties))),
            sent=properties,
        )

    def query(
        self,
        ds_id: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sorts: list[dict[str, Any]] | None = None,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Every matching page, 100 per request, following next_cursor."""
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"page_size": page_size}
            if filter:
                body["filter"] = dict(filter)
            if sorts:
                body["sorts"] = sorts
            if cursor:
                body["start_cursor"] = cursor

            def send(body: dict[str, Any] = body) -> dict[str, Any]:
                return _json(self._sdk.data_sources.query(data_source_id=ds_id, **body))

            answer = self.call(f"query data source {ds_id}", send)
            yield from answer.get("results", [])
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def retrieve_page(self, page_id: str) -> dict[str, Any]:
        return self.call(f"read page {page_id}", lambda: _json(self._sdk.pages.retrieve(page_id=page_id)))

    def update_page(self, page_id: str, *, properties: Mapping[str, Any] | None = None,
                    in_trash: bool | None = None, sent: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if properties:
            body["properties"] = dict(properties)
        if in_trash is not None:
            body["in_trash"] = in_trash
        # A PATCH of the same values is idempotent: plain retries are safe.
        return self.call(f"update page {page_id}",
                         lambda: _json(self._sdk.pages.update(page_id=page_id, **body)), sent=sent)

    def create_page(self, ds_id: str, properties: Mapping[str, Any],
                    sent: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST pages. Retries only failures that certainly created nothing; an ambiguous
        failure (timeout, 5xx) escapes raw for the caller to re-check."""
        return self.call(
            "create a page",
            lambda: _json(self._sdk.pages.create(
                parent={"type": "data_source_id", "data_source_id": ds_id},
                properties=dict(properties),
            )),
            sent=sent,
            idempotent=False,
        )


def _json(answer: Any) -> dict[str, Any]:
    """An endpoint's answer. notion_client types each as `T | Awaitable[T]` (one signature for
    its sync and async clients); the synchronous Client used here returns the JSON object."""
    return cast(dict[str, Any], answer)


def _named_property(message: str, sent: Mapping[str, Any]) -> str | None:
    """The sent property a Notion validation message is about (the longest name it cites)."""
    hits = [name for name in sent if name and name in message]
    return max(hits, key=len) if hits else None
