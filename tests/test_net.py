"""net.py: the HTTP client factory, the shared rate limiter and the retry helper."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from cratefile import __version__
from cratefile.net import (
    LimitedTransport,
    RateLimiter,
    backoff_delay,
    is_transient_http,
    limited_transport,
    make_client,
    parse_retry_after,
    retry_after_http,
    retrying,
)


def test_rate_limiter_keeps_the_average_across_threads() -> None:
    limiter = RateLimiter(40.0, burst=1)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    # 20 slots at 40/s: the first is free, the other 19 are 25 ms apart.
    assert len(stamps) == 20
    assert elapsed >= 19 / 40 - 0.01
    stamps.sort()
    # never ahead of schedule: the i-th request no earlier than i intervals after the first. (A
    # gap between two neighbours can look short when one thread wakes late on a loaded machine;
    # a late wake only delays, so this bound holds whatever the scheduler does.)
    assert all(t - stamps[0] >= i * 0.025 - 0.006 for i, t in enumerate(stamps))


def test_rate_limiter_burst_then_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(d: float) -> None:
        slept.append(d)
        now[0] += d

    limiter = RateLimiter(2.0, burst=3, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]  # the burst
    assert waits[3] == pytest.approx(0.5) and waits[4] == pytest.approx(0.5)


def test_pause_until_holds_every_thread() -> None:
    limiter = RateLimiter(1000.0, burst=10)
    limiter.pause_for(0.3)
    done: list[float] = []
    start = time.monotonic()

    def worker() -> None:
        limiter.acquire()
        done.append(time.monotonic() - start)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 3 and min(done) >= 0.29


def test_pause_announced_while_waiting_applies() -> None:
    limiter = RateLimiter(5.0, burst=1)
    limiter.acquire()  # next slot is 0.2 s away
    start = time.monotonic()
    threading.Timer(0.05, limiter.pause_for, args=(0.5,)).start()
    limiter.acquire()
    assert time.monotonic() - start >= 0.5


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(1, burst=0)


def test_retrying_retries_transient_then_succeeds() -> None:
    calls = []
    waits: list[float] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("flaky")
        return "ok"

    got = retrying(fn, is_transient=lambda e: isinstance(e, ConnectionError), attempts=5,
                   base_delay=0.2, max_delay=1.0, sleep=waits.append)
    assert got == "ok" and len(calls) == 3
    assert len(waits) == 2
    assert 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4  # equal jitter, doubling


def test_retrying_does_not_retry_permanent_errors() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        retrying(fn, is_transient=lambda e: isinstance(e, ConnectionError), sleep=lambda d: None)
    assert len(calls) == 1


def test_retrying_honours_retry_after_and_gives_up() -> None:
    waits: list[float] = []
    seen: list[float] = []

    class Limited(Exception):
        pass

    def fn() -> None:
        raise Limited()

    with pytest.raises(Limited):
        retrying(fn, is_transient=lambda e: True, retry_after=lambda e: 7.0, attempts=3,
                 base_delay=0.01, max_delay=0.02, sleep=waits.append,
                 on_retry=lambda e, d: seen.append(d))
    assert waits == [7.0, 7.0]  # Retry-After wins over the (tiny) backoff
    assert seen == [7.0, 7.0]


def test_backoff_is_capped() -> None:
    for attempt in range(1, 20):
        d = backoff_delay(attempt, 0.5, 4.0)
        assert 0 < d <= 4.0
    assert backoff_delay(10, 0.5, 4.0) >= 2.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


def test_make_client_sets_agent_base_url_and_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    with make_client("http://127.0.0.1:9/api", timeout=4.0, transport=httpx.MockTransport(handler),
                     headers={"X-Extra": "1"}) as client:
        assert client.get("/thing").json() == {"ok": True}
        assert client.timeout.read == 4.0
    assert seen[0].headers["User-Agent"] == f"cratefile/{__version__}"
    assert seen[0].headers["X-Extra"] == "1"
    assert str(seen[0].url) == "http://127.0.0.1:9/api/thing"


def test_limited_transport_pauses_everyone_on_429() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)])
    limiter = RateLimiter(1000.0, burst=5)
    with make_client("http://x", transport=httpx.MockTransport(lambda r: next(answers)),
                     limiter=limiter) as client:
        first = client.get("/a")
        assert first.status_code == 429
        start = time.monotonic()
        assert client.get("/b").status_code == 200
        assert time.monotonic() - start >= 0.95  # the second request waited out Retry-After
        transport = limited_transport(client)
        assert isinstance(transport, LimitedTransport)
        assert transport.requests == 2 and transport.rate_limited == 1


def test_http_helpers_classify() -> None:
    req = httpx.Request("GET", "http://x")
    assert is_transient_http(httpx.ConnectError("no", request=req))
    err503 = httpx.HTTPStatusError("x", request=req, response=httpx.Response(503, request=req))
    err404 = httpx.HTTPStatusError("x", request=req, response=httpx.Response(404, request=req))
    assert is_transient_http(err503) and not is_transient_http(err404)
    err429 = httpx.HTTPStatusError(
        "x", request=req, response=httpx.Response(429, headers={"Retry-After": "2"}, request=req))
    assert retry_after_http(err429) == 2.0 and retry_after_http(err404) is None
