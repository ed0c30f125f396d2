"""What went wrong inside yt-dlp, as a failure category and a short human message.

yt-dlp wraps its errors inconsistently: a `DownloadError` keeps the root cause in `exc_info`
and the `ExtractorError` in `__context__`, an `ExtractorError` keeps the HTTP error in
`.cause`, and raw `HTTPError`, `RequestError` and `ExtractorError` escape unwrapped. So
`classify` walks the whole chain (`exc_info`, `.cause`, `__cause__`, `__context__`) and
decides on everything it finds, most specific first. Messages never contain a secret: every
one goes through `redact`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Iterator

from yt_dlp.networking.exceptions import (
    CertificateVerifyError,
    HTTPError,
    TransportError,
)
from yt_dlp.utils import (
    ContentTooShortError,
    ExtractorError,
    GeoRestrictedError,
    UnsupportedError,
)

from cratefile.errors import Category, TrackFailure
from cratefile.net import parse_retry_after

RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer is better retried next run
MESSAGE_LIMIT = 240

RETRYABLE = frozenset({Category.RATE_LIMITED, Category.TRANSIENT})


class YtdlpFailure(TrackFailure):
    """A TrackFailure that remembers the server's Retry-After (seconds), for the retry loop."""

    def __init__(self, category: Category, message: str, retry_after: float | None = None) -> None:
        super().__init__(category, message)
        self.retry_after = retry_after


def chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from `exc`, outermost first, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        exc_info = getattr(e, "exc_info", None)
        nxt = [
            exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None,
            getattr(e, "cause", None),
            e.__cause__,
            e.__context__,
        ]
        todo.extend(n for n in nxt if isinstance(n, BaseException))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped; None when absent or bad."""
    seconds = parse_retry_after(value, now=now)
    return None if seconds is None else min(seconds, RETRY_AFTER_CAP)


def short_message(exc: BaseException) -> str:
    """yt-dlp's message without its 'ERROR: [ie] id: ' decoration, first line only."""
    msg = exc.orig_msg if isinstance(exc, ExtractorError) else str(exc)
    # a downloader's message may follow a progress line's carriage return: 'ERROR: \r[download] Got error: ...'
    lines = [re.sub(r"^(ERROR:\s*)", "", line).strip() for line in re.split(r"[\r\n]+", msg)]
    lines = [line for line in lines if line]
    msg = lines[0] if lines else type(exc).__name__
    msg = re.sub(r"^(\[[\w:]+\]\s*)?([\w.-]+:\s+)?(?=[A-Z])", "", msg)
    return msg[:MESSAGE_LIMIT]


_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})")


def _status_in_text(exc: BaseException) -> int | None:
    """A status that survives only as text: the downloader's 'Got error: HTTP Error 503 ...
    Giving up after 10 retries' carries no HTTPError object."""
    found = _HTTP_STATUS.search(str(exc))
    return int(found.group(1)) if found else None


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, HTTPError):
        status: int = exc.status  # yt-dlp's networking HTTPError always has one
        return status
    code = getattr(exc, "code", None)  # urllib's HTTPError, should one escape from a plugin
    return code if isinstance(code, int) and 100 <= code < 600 else None


def classify(exc: BaseException, *, site: str = "the site", secrets: Iterable[str | None] = ()) -> YtdlpFailure:
    """The failure category and a short message for anything yt-dlp raised."""
    errors = list(chain(exc))
    texts = " | ".join(str(e) for e in errors)

    def fail(category: Category, message: str, retry_after: float | None = None) -> YtdlpFailure:
        return YtdlpFailure(category, redact(message, secrets)[:MESSAGE_LIMIT], retry_after)

    if any(isinstance(e, GeoRestrictedError) for e in errors):
        return fail(Category.GEO_BLOCKED, f"{site} does not offer this in your country (geo-restricted)")
    if any(isinstance(e, UnsupportedError) for e in errors):
        return fail(Category.UNSUPPORTED_URL, "yt-dlp does not support this URL")
    if "DRM protected" in texts:
        return fail(Category.DRM, f"{site} only offers this DRM-encrypted; it cannot be downloaded")
    if "Requested format is not available" in texts:
        # Our format string refuses only previews, so nothing left means only previews exist.
        return fail(Category.PREVIEW_ONLY, f"{site} only offers a short preview (e.g. Go+), not the full track")
    # An error that carries its response first: the wrapping DownloadError says 'HTTP Error 429'
    # too, but only the HTTPError has the Retry-After header.
    for e in sorted(errors, key=lambda e: _status(e) is None):
        status = _status(e) or _status_in_text(e)
        if status is None:
            continue
        if status == 429:
            headers = getattr(getattr(e, "response", None), "headers", None) or getattr(e, "headers", None)
            # as the server said it: waits are capped where they are taken, and a pause longer
            # than the cap ends the retries of this run (see ytdlp._retrying)
            after = parse_retry_after(headers.get("Retry-After") if headers is not None else None)
            return fail(Category.RATE_LIMITED, f"{site} says 429: too many requests, slow down", after)
        if status in (404, 410):
            what = "deleted or private" if site == "SoundCloud" else "not found (deleted, private or moved)"
            return fail(Category.NOT_FOUND, f"{site} says {status}: {what}")
        if status == 408 or status >= 500:
            return fail(Category.TRANSIENT, f"{site} says {status}: temporary server error")
        if status in (401, 403):
            return fail(Category.DOWNLOAD_FAILED, f"{site} says {status}: forbidden (login or cookies needed?)")
        return fail(Category.DOWNLOAD_FAILED, f"{site} says {status}: {short_message(e)}")
    for e in errors:
        if isinstance(e, CertificateVerifyError):
            return fail(Category.DOWNLOAD_FAILED, f"TLS certificate check failed: {short_message(e)}")
        if isinstance(e, TransportError | ContentTooShortError | TimeoutError | ConnectionError | socket.timeout):
            return fail(Category.TRANSIENT, f"network error: {short_message(e)}")
    broken = next((e for e in errors if isinstance(e, ExtractorError) and not e.expected), None)
    if broken is not None:
        return fail(
            Category.EXTRACTOR_BROKEN,
            f"yt-dlp's extractor failed ({short_message(broken)}); upgrade yt-dlp and retry",
        )
    return fail(Category.DOWNLOAD_FAILED, short_message(errors[0]))
