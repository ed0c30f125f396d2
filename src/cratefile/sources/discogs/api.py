"""The Discogs API as the `discogs:` kind uses it: token auth, a User-Agent, bounded retries, and
the 60-requests-per-moving-minute budget paced from the answers' headers.

Two brakes share one process-wide `RateLimiter` (`net.limiter("discogs <api_url>")`):
- the limiter itself: about one request a second, small bursts;
- the headers: every answer says `X-Discogs-Ratelimit-Remaining`. When it drops to `low`
  or below, every caller is held (`RateLimiter.pause_until`) until enough of the requests
  this process sent leave the moving minute; when the budget went to someone else (another
  app with the same token) the rest of it is spread over the minute.
A 429 (Discogs sends no Retry-After) is such an answer with nothing remaining, then retried;
5xx and transport errors are retried with backoff. Clock and sleep are injectable.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from cratefile.net import RateLimiter, is_transient_http, limiter, make_client, retrying
from cratefile.sources.discogs.settings import DiscogsTuning


class BadAnswer(Exception):
    """A successful status with a body that is not Discogs' JSON (a proxy's page, ...)."""


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers.get(name, ""))
    except ValueError:
        return None


class Pacer:
    """The moving minute as this process sees it: when it sent, and what the headers said."""

    def __init__(self, limiter: RateLimiter, tuning: DiscogsTuning, clock: Callable[[], float]) -> None:
        self.limiter, self.tuning, self.clock = limiter, tuning, clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.pauses = 0  # how often the headers held the callers (for tests and logs)

    def observe(self, response: httpx.Response) -> float:
        """Take one answer's headers into account; return how long every caller is now held."""
        now = self.clock()
        limited = response.status_code == 429
        remaining = 0 if limited else _int_header(response.headers, "X-Discogs-Ratelimit-Remaining")
        with self._lock:
            if not limited:  # a refused request is not counted against the minute
                self._sent.append(now)
            while self._sent and self._sent[0] <= now - self.tuning.window:
                self._sent.popleft()
            if remaining is None or remaining > self.tuning.low:
                return 0.0
            need = self.tuning.low + 1 - remaining  # requests that must leave the minute
            if len(self._sent) >= need:
                free_at = self._sent[need - 1] + self.tuning.window
            else:  # the minute went to requests we did not send: spread what is left over it
                free_at = now + self.tuning.window / (remaining + 1)
            self.pauses += 1
        self.limiter.pause_until(free_at)
        return max(0.0, free_at - now)


_pacers: weakref.WeakKeyDictionary[RateLimiter, Pacer] = weakref.WeakKeyDictionary()
_pacers_lock = threading.Lock()


def pacer_for(limiter: RateLimiter, tuning: DiscogsTuning, clock: Callable[[], float]) -> Pacer:
    """The one pacer of a limiter: every client sharing the limiter shares the minute."""
    with _pacers_lock:
        found = _pacers.get(limiter)
        if found is None:
            found = _pacers[limiter] = Pacer(limiter, tuning, clock)
        return found


def default_limiter(api_url: str, tuning: DiscogsTuning, clock: Callable[[], float],
                    sleep: Callable[[float], None]) -> RateLimiter:
    return limiter(f"discogs {api_url}",
                   lambda: RateLimiter(tuning.rate_per_s, tuning.burst, clock=clock, sleep=sleep))


def told(exc: BaseException) -> str:
    """Discogs' own words for a refused request ({"message": ...}), else the status line."""
    if isinstance(exc, httpx.HTTPStatusError):
        try:
            body = exc.response.json()
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        status = exc.response.status_code
        return f"{status} {message}" if message else f"{status} {exc.response.reason_phrase}"
    return f"{type(exc).__name__}: {exc}"


class DiscogsApi:
    """One httpx client (from `net.make_client`) with the token, the limiter and the pacer."""

    def __init__(
        self,
        api_url: str,
        token: str,
        user_agent: str,
        *,
        limiter: RateLimiter,
        tuning: DiscogsTuning,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tuning = tuning
        self._sleep = sleep
        self.pacer = pacer_for(limiter, tuning, clock)
        self._http = make_client(
            self.api_url, timeout=tuning.timeout, limiter=limiter,
            headers={"Authorization": f"Discogs token={token}", "User-Agent": user_agent,
                     "Accept": "application/vnd.discogs.v2.discogs+json"},
        )
        self.requests = 0

    def __repr__(self) -> str:  # never the token
        return f"DiscogsApi({self.api_url!r})"

    def __enter__(self) -> DiscogsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON of one GET, retried on 429, 5xx and transport errors; what is left is
        raised (httpx.HTTPStatusError or httpx.TransportError) for the caller to explain."""

        def once() -> Any:
            self.requests += 1
            response = self._http.get(path, params=dict(params or {}))
            self.pacer.observe(response)
            response.raise_for_status()
            try:
                return response.json()
            except ValueError as exc:
                raise BadAnswer(f"{response.status_code} answer is not JSON") from exc

        return retrying(
            once,
            is_transient=is_transient_http,
            # A 429 has paused the limiter until the minute frees up: nothing more to wait here.
            retry_after=lambda exc: 0.0 if status_of(exc) == 429 else None,
            attempts=self.tuning.attempts,
            base_delay=self.tuning.base_delay,
            max_delay=self.tuning.max_delay,
            sleep=self._sleep,
        )


def status_of(exc: BaseException) -> int | None:
    return exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
