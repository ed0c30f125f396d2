"""The mirror under a misbehaving Notion: transient errors, rate limits, timeouts after a page
was created, lagging queries — and never a duplicate page, never the token in the open."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Iterator

import pytest

from cratefile.errors import CatalogError
from cratefile.net import RateLimiter
from cratefile.sinks.notion.mirror import (
    NotionMirror,
    NotionTrack,
    NotionTuning,
    NotionValidationError,
)
from fakes.notion import FakeNotion, Fault

# Client timeout 0.5 s; slow faults take 0.8 s. `settle` covers a slow request that is applied
# 0.8 s after it was sent plus the 0.4 s a new page stays out of queries.
TUNING = NotionTuning(timeout=0.5, attempts=8, base_delay=0.02, max_delay=0.1, settle=1.5, workers=3)
POST_PAGES = {"method": "POST", "path": "/v1/pages"}


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion() as server:
        yield server


def mirror(fake: FakeNotion, tuning: NotionTuning = TUNING, limiter: RateLimiter | None = None) -> NotionMirror:
    return NotionMirror(fake.config(), limiter=limiter or RateLimiter(2000.0, burst=50), tuning=tuning)


def make_tracks(n: int) -> list[NotionTrack]:
    return [
        NotionTrack(f"soundcloud {i}", f"https://soundcloud.com/a/t{i}", f"T{i}", "A", True, 120.0 + i, "Am",
                    200.0, (("wav", f"/w/{i}.wav"),), None, ("built",), ("Set",), None)
        for i in range(n)
    ]


def assert_one_page_per_track(fake: FakeNotion, tracks: list[NotionTrack], ids: dict[str, str]) -> None:
    by_url: dict[str, list[str]] = {}
    for page in fake.live_pages():
        by_url.setdefault(fake.value(page["id"], "SoundCloud URL"), []).append(page["id"])
    assert {t.source_url for t in tracks} == set(by_url)
    duplicates = {u: p for u, p in by_url.items() if len(p) > 1}
    assert not duplicates
    assert {t.key: by_url[t.source_url][0] for t in tracks} == ids


def test_each_transient_error_is_retried(fake: FakeNotion) -> None:
    with mirror(fake) as m:
        m.check_schema()
        # all on the first request (the query), one after the other
        fake.inject(Fault.conflict(), Fault.server_error(), Fault.bad_gateway(), Fault.unavailable(),
                    Fault.gateway_timeout(), Fault.overloaded(retry_after=1))
        start = time.monotonic()
        stats = m.sync(make_tracks(2), on_page_id=lambda k, p: None)
    assert fake.pending_faults() == 0
    assert stats.created == 2
    assert stats.retries == 6 and stats.requests == 7 + 2
    assert stats.rate_limited == 1 and time.monotonic() - start >= 0.95  # 529 Retry-After: 1
    assert 502 in [r.status for r in fake.requests]


def test_patch_survives_a_non_json_502(fake: FakeNotion) -> None:
    ids: dict[str, str] = {}
    tracks = make_tracks(1)
    with mirror(fake) as m:
        m.sync(tracks, on_page_id=ids.__setitem__)
        fake.inject(Fault.bad_gateway(method="PATCH"))
        stats = m.sync([dataclasses.replace(tracks[0], page_id=ids["soundcloud 0"], bpm=99.0)],
                       on_page_id=ids.__setitem__)
    assert stats.updated == 1 and stats.retries == 1
    assert fake.value(ids["soundcloud 0"], "Tempo") == 99.0


@pytest.mark.parametrize("fault", [
    Fault.timeout_after_apply(0.8, **POST_PAGES),
    Fault.server_error(apply=True, **POST_PAGES),
    Fault.bad_gateway(apply=True, **POST_PAGES),
    Fault.slow(0.8, **POST_PAGES),  # applied after the client gave up
], ids=["timeout-after-create", "500-after-create", "502-after-create", "applied-late"])
def test_a_create_in_doubt_is_rechecked_not_resent(fake: FakeNotion, fault: Fault) -> None:
    fake.hide_new_pages_for = 0.4
    fake.inject(fault)
    ids: dict[str, str] = {}
    tracks = make_tracks(1)
    with mirror(fake) as m:
        stats = m.sync(tracks, on_page_id=ids.__setitem__)
    assert stats.rechecked == 1 and stats.adopted == 1 and stats.created == 1
    assert len([r for r in fake.requests if r.path == "/v1/pages"]) == 1  # never sent twice
    assert_one_page_per_track(fake, tracks, ids)


def test_a_create_that_failed_before_applying_is_sent_again(fake: FakeNotion) -> None:
    fake.inject(Fault.gateway_timeout(**POST_PAGES))
    ids: dict[str, str] = {}
    tracks = make_tracks(1)
    with mirror(fake, dataclasses.replace(TUNING, settle=0.2)) as m:
        stats = m.sync(tracks, on_page_id=ids.__setitem__)
    assert (stats.rechecked, stats.adopted, stats.created) == (1, 0, 1)
    assert len([r for r in fake.requests if r.path == "/v1/pages"]) == 2
    assert_one_page_per_track(fake, tracks, ids)


def storm_fault(rng: random.Random, creates_too: bool = True) -> Fault:
    kinds = [
        Fault.conflict, Fault.server_error, Fault.bad_gateway, Fault.unavailable, Fault.gateway_timeout,
        lambda: Fault.overloaded(retry_after=1),  # 429s come from the fake's own budget
    ]
    if creates_too:
        kinds += [
            lambda: Fault.timeout_after_apply(0.8, **POST_PAGES),
            lambda: Fault.server_error(apply=True, **POST_PAGES),
            lambda: Fault.bad_gateway(apply=True, **POST_PAGES),
            lambda: Fault.slow(0.8, **POST_PAGES),
        ]
    return rng.choice(kinds)()


def test_fault_storm_ends_with_one_page_per_track(fake: FakeNotion) -> None:
    rng = random.Random(7)
    tracks = make_tracks(24)
    ids: dict[str, str] = {}
    with mirror(fake, limiter=RateLimiter(200.0, burst=10)) as m:
        m.check_schema()
        fake.set_rate_limit(25.0, burst=6)  # real 429s with Retry-After: the client limiter is too fast
        fake.hide_new_pages_for = 0.4
        # about one request in four fails: on creates, half the failures happen after the page exists
        fake.chaos(0.25, lambda: storm_fault(rng), seed=11)
        first = m.sync(tracks, on_page_id=ids.__setitem__)
        assert_one_page_per_track(fake, tracks, ids)
        # A rerun with the recorded ids and a few changes, while no page shows up in queries
        # yet (all are "new"), under faults on reads and writes.
        fake.hide_new_pages_for = 600.0
        fake.set_rate_limit(None)
        fake.chaos(0.25, lambda: storm_fault(rng, creates_too=False), seed=12)
        changed = [dataclasses.replace(t, page_id=ids[t.key], bpm=(t.bpm or 0) + (1 if i % 5 == 0 else 0))
                   for i, t in enumerate(tracks)]
        second = m.sync(changed, on_page_id=ids.__setitem__)
    assert first.retries > 0 and first.rate_limited > 0 and first.rechecked > 0
    assert second.created == 0 and second.updated == 5 and second.retries > 0
    assert any(r.method == "GET" and r.path.startswith("/v1/pages/") for r in fake.requests)
    assert_one_page_per_track(fake, tracks, ids)
    assert all(fake.value(ids[t.key], "Tempo") == t.bpm for t in changed)


def test_rate_limit_of_3_per_second(fake: FakeNotion) -> None:
    fake.set_rate_limit(3.0, burst=3)
    tuning = dataclasses.replace(TUNING, timeout=5.0)
    # With the shared limiter at 3/s: no 429 at all, about 3 requests per second.
    with mirror(fake, tuning, RateLimiter(3.0, burst=1)) as m:
        start = time.monotonic()
        stats = m.sync(make_tracks(5), on_page_id=lambda k, p: None)
        elapsed = time.monotonic() - start
    assert stats.requests == 6 and stats.rate_limited == 0
    assert elapsed >= 5 / 3 - 0.05
    assert not [r for r in fake.requests if r.status == 429]
    # Without it, Notion answers 429 + Retry-After; honouring it still gets everything written.
    fake.clear_log()
    tracks = [dataclasses.replace(t, key=t.key + "b", source_url=t.source_url + "b") for t in make_tracks(6)]
    ids: dict[str, str] = {}
    with mirror(fake, tuning, RateLimiter(1000.0, burst=20)) as m:
        stats = m.sync(tracks, on_page_id=ids.__setitem__)
    assert stats.rate_limited > 0 and stats.created == 6
    answered = [r for r in fake.requests if r.status == 429]
    assert answered and all(r.fault == "" for r in answered)
    assert len(fake.live_pages()) == 11


def test_token_never_leaks(fake: FakeNotion, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("notion_client", "httpx", "httpcore", "cratefile"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    token = fake.token
    texts: list[str] = []
    fake.inject(Fault.server_error(), Fault.bad_gateway(), Fault.rate_limited(retry_after=1),
                Fault.timeout_after_apply(0.8, **POST_PAGES))
    fake.hide_new_pages_for = 0.2
    with mirror(fake) as m:
        texts.append(repr(m))
        m.sync(make_tracks(3), on_page_id=lambda k, p: None)
        too_long = dataclasses.replace(make_tracks(1)[0], key="x", source_url="https://x/" + "y" * 2100)
        with pytest.raises(NotionValidationError) as invalid:
            m.sync([too_long], on_page_id=lambda k, p: None)
        texts += [str(invalid.value), repr(invalid.value), str(invalid.value.__cause__)]
    bad_token_for_logs = fake.config()
    assert bad_token_for_logs.token == token and token not in repr(bad_token_for_logs)
    wrong = fake.config(token="secret_wrong_token_abc")
    with NotionMirror(wrong, limiter=RateLimiter(2000.0, burst=50), tuning=TUNING) as m:
        with pytest.raises(CatalogError) as unauthorized:
            m.check_schema()
        texts += [str(unauthorized.value), repr(unauthorized.value.__cause__)]
        assert "secret_wrong_token_abc" not in str(unauthorized.value)
    texts.append(caplog.text)
    assert "retrying" in caplog.text  # the logs did record the storm...
    for text in texts:
        assert token not in text  # ...but never the token
