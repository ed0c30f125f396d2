"""The one HTTP client factory: timeouts, a User-Agent, a shared rate limiter, bounded retries.

Every module that talks HTTP (Notion, Eagle, ...) builds its `httpx.Client` with `make_client`,
so tests inject a base URL or a transport in one place. Retries go through `retrying`
(tenacity): transient errors only, exponential backoff with jitter, Retry-After honoured.
A `RateLimiter` is shared by all workers of a process: parallel workers that each retry a 429
on their own only thrash, so a 429's Retry-After pauses every thread (`pause_until`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import tenacity

from cratefile import USER_AGENT as _USER_AGENT

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = _USER_AGENT  # kept here for the clients that import it from net

# Statuses whose Retry-After header asks every caller to hold off, not only the one answered.
PAUSING_STATUSES = frozenset({429, 529})


class RateLimiter:
    """Thread-safe token bucket: at most `rate_per_s` on average, bursts of `burst`.

    `acquire()` reserves the next free slot under the lock and sleeps outside it, so waiting
    threads are served in arrival order and the average never exceeds the rate.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self._interval = 1.0 / self.rate_per_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # GCRA: the theoretical arrival time of the next request; bursts may run ahead of it
        # by (burst - 1) intervals.
        self._tat = 0.0
        self._paused_until = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate_per_s:g}/s, burst={self.burst})"

    def acquire(self) -> float:
        """Block until this caller may send one request; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                start = max(now, self._paused_until)
                tat = max(self._tat, start)
                at = max(start, tat - (self.burst - 1) * self._interval)
                self._tat = tat + self._interval
            delay = at - now
            if delay > 0:
                self._sleep(delay)
                waited += delay
            # A pause announced while we slept (another thread got a 429) applies to us too.
            with self._lock:
                if self._paused_until <= self._clock():
                    return waited

    def pause_until(self, t: float) -> None:
        """Hold every caller until clock time `t` (this limiter's clock, monotonic by default)."""
        with self._lock:
            if t > self._paused_until:
                self._paused_until = t
                log.info("rate limiter paused for %.1fs", t - self._clock())

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock() + seconds)


class LimitedTransport(httpx.BaseTransport):
    """Wraps a transport: takes a limiter slot per request, pauses the limiter on 429/529
    with Retry-After, and counts what was sent (for run statistics)."""

    def __init__(self, inner: httpx.BaseTransport, limiter: RateLimiter | None) -> None:
        self.inner = inner
        self.limiter = limiter
        self._lock = threading.Lock()
        self.requests = 0
        self.rate_limited = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        with self._lock:
            self.requests += 1
        response = self.inner.handle_request(request)
        if response.status_code in PAUSING_STATUSES:
            with self._lock:
                self.rate_limited += 1
            delay = parse_retry_after(response.headers.get("retry-after"))
            if self.limiter is not None and delay is not None:
                self.limiter.pause_for(delay)
        return response

    def close(self) -> None:
        self.inner.close()


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(name: str, make: Callable[[], RateLimiter]) -> RateLimiter:
    """The process-wide limiter called `name` ('notion https://api.notion.com', 'site
    SoundCloud'): made on first use, then shared by every client and worker thread."""
    with _limiters_lock:
        if name not in _limiters:
            _limiters[name] = make()
        return _limiters[name]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():  # delta-seconds
        return float(value)
    try:  # an HTTP date
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def make_client(
    base_url: str,
    *,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
    limiter: RateLimiter | None = None,
) -> httpx.Client:
    """An `httpx.Client` with our User-Agent, a timeout, and (optionally) a rate limiter.

    `transport` is the injection point for tests (an `httpx.MockTransport`, or None for the
    network); the limiter wraps it so every request, retries included, takes a slot.
    """
    all_headers = {"User-Agent": USER_AGENT}
    all_headers.update(headers or {})
    inner = transport if transport is not None else httpx.HTTPTransport()
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        headers=all_headers,
        transport=LimitedTransport(inner, limiter),
        follow_redirects=False,
    )


def limited_transport(client: httpx.Client) -> LimitedTransport:
    """The counting, limiting transport of a client built by `make_client`."""
    transport = client._transport  # httpx keeps no public handle on it
    if not isinstance(transport, LimitedTransport):
        raise TypeError("client was not built by cratefile.net.make_client")
    return transport


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so waits never
    collapse to zero yet retrying threads spread out. `attempt` counts from 1."""
    ceiling: float = min(max_delay, base_delay * (2 ** max(0, attempt - 1)))  # int ** int is typed Any
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    def __init__(
        self,
        retry_after: Callable[[BaseException], float | None],
        base_delay: float,
        max_delay: float,
    ) -> None:
        self.retry_after = retry_after
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if exc is not None:
            told = self.retry_after(exc)
            if told is not None:
                # The server named the wait: honour it, whatever our own backoff would say.
                return told
        return backoff_delay(retry_state.attempt_number, self.base_delay, self.max_delay)


def retrying(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn()`; retry it on transient errors only, up to `attempts` calls in all.

    The wait is the server's Retry-After when `retry_after(exc)` gives one, else exponential
    backoff with jitter between `base_delay` and `max_delay`. The last error is re-raised
    unchanged; a non-transient error is raised at once.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            if exc is not None:
                on_retry(exc, state.upcoming_sleep)

    controller = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=_WaitRetryAfterOrBackoff(retry_after, base_delay, max_delay),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    return controller(fn)


def is_transient_http(exc: BaseException) -> bool:
    """Default transient test for plain httpx use: transport errors, 429, 5xx."""
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status in (408, 409, 425, 429) or status >= 500
    return False


def retry_after_http(exc: BaseException) -> float | None:
    if isinstance(exc, httpx.HTTPStatusError):
        return parse_retry_after(exc.response.headers.get("retry-after"))
    return None
