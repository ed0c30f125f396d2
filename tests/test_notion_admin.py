"""Dedupe, Notion as a source, and processing locks, against the fake Notion."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

import pytest

from cratefile.net import RateLimiter
from cratefile.sinks.notion.lock import parse_lock
from cratefile.sinks.notion.mirror import LockOwner, NotionMirror, NotionTuning
from fakes.notion import FakeNotion, Fault

FAST = NotionTuning(timeout=5.0, attempts=3, base_delay=0.01, max_delay=0.05, settle=0.2,
                    lock_settle=0.15, stale_after=1800.0)
URL = "https://soundcloud.com/artist/song"


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion() as server:
        yield server


def mirror(fake: FakeNotion, tuning: NotionTuning = FAST, **kw: object) -> NotionMirror:
    return NotionMirror(fake.config(), limiter=RateLimiter(2000.0, burst=50), tuning=tuning, **kw)  # type: ignore[arg-type]


# ---- dedupe ---------------------------------------------------------------------------------
def seed_duplicates(fake: FakeNotion) -> tuple[str, str, str, str]:
    oldest = fake.seed_page({"Title": "Song", "SoundCloud URL": URL, "Audio Processing Status": ["built"]},
                            created_time="2026-01-01T10:00:00.000Z")
    middle = fake.seed_page({"SoundCloud URL": "http://www.soundcloud.com/artist/song/?si=abc", "Tempo": 124.0,
                             "Key": "Am", "Downloaded": True, "Audio Processing Status": ["wav"]},
                            created_time="2026-01-01T11:00:00.000Z")
    newest = fake.seed_page({"Title": "Other title", "SoundCloud URL": "https://m.soundcloud.com/artist/song#t=1",
                             "Tempo": 125.0, "Processing Lock": "1:h:abc:1"},
                            created_time="2026-01-02T09:00:00.000Z")
    single = fake.seed_page({"Title": "Alone", "SoundCloud URL": "https://soundcloud.com/artist/alone"})
    return oldest, middle, newest, single


def test_dedupe_dry_run_lists_then_real_run_merges_and_trashes(fake: FakeNotion) -> None:
    oldest, middle, newest, single = seed_duplicates(fake)
    with mirror(fake) as m:
        fake.clear_log()
        groups = m.dedupe(dry_run=True)
        assert fake.writes() == []
        assert len(groups) == 1
        group = groups[0]
        assert group.url == URL and group.keep == oldest and group.trash == (middle, newest)
        assert set(group.merged) == {"Tempo", "Key", "Downloaded", "Audio Processing Status"}

        groups = m.dedupe(dry_run=False)
    assert fake.value(oldest, "Title") == "Song"  # its own non-empty values stay
    assert fake.value(oldest, "Tempo") == 124.0  # the oldest non-empty value wins
    assert fake.value(oldest, "Key") == "Am" and fake.value(oldest, "Downloaded") is True
    assert fake.value(oldest, "Audio Processing Status") == ["built", "wav"]
    assert fake.value(oldest, "Processing Lock") == ""  # locks are not merged
    live = {p["id"] for p in fake.live_pages()}
    assert live == {oldest, single}
    assert fake.page(middle)["in_trash"] and fake.page(newest)["in_trash"]
    # the kept page is patched before anything is trashed
    writes = [(r.path, sorted(r.body)) for r in fake.writes()]
    assert writes[0] == (f"/v1/pages/{oldest}", ["properties"])
    assert {w[0] for w in writes[1:]} == {f"/v1/pages/{middle}", f"/v1/pages/{newest}"}
    with mirror(fake) as m:
        assert m.dedupe(dry_run=True) == []


def test_sync_after_dedupe_follows_the_kept_page(fake: FakeNotion) -> None:
    from cratefile.sinks.notion.mirror import NotionTrack

    oldest, middle, _newest, _single = seed_duplicates(fake)
    with mirror(fake) as m:
        m.dedupe(dry_run=False)
        ids: dict[str, str] = {}
        track = NotionTrack("soundcloud 9", URL, "Song", "Artist", True, 124.0, "Am", None, (), None,
                            ("built", "wav"), (), page_id=middle)  # the catalog knew the trashed one
        stats = m.sync([track], on_page_id=ids.__setitem__)
    assert ids == {"soundcloud 9": oldest} and stats.created == 0


# ---- Notion as a source ---------------------------------------------------------------------
def test_pending_pages_filters(fake: FakeNotion) -> None:
    a = fake.seed_page({"Title": "A", "Artist Name": "X", "SoundCloud URL": "https://soundcloud.com/x/a"},
                       created_time="2026-01-01T10:00:00.000Z")
    b = fake.seed_page({"Title": "B", "SoundCloud URL": "https://soundcloud.com/x/b", "Downloaded": True,
                        "Eagle File ID": "EAGLE1"}, created_time="2026-01-01T11:00:00.000Z")
    fake.seed_page({"Title": "no url"}, created_time="2026-01-01T12:00:00.000Z")
    d = fake.seed_page({"SoundCloud URL": "https://soundcloud.com/x/d", "Downloaded": True},
                       created_time="2026-01-01T13:00:00.000Z")
    trashed = fake.seed_page({"SoundCloud URL": "https://soundcloud.com/x/t"})
    fake._find_page(trashed).in_trash = True
    with mirror(fake) as m:
        unprocessed = m.pending_pages("unprocessed")
        assert unprocessed == [(a, "https://soundcloud.com/x/a", "A", "X")]
        assert [p.page_id for p in m.pending_pages("all")] == [a, b, d]
        missing = m.pending_pages("missing_eagle")
        assert [p.page_id for p in missing] == [a, d]
        assert missing[1].title is None and missing[1].artist is None
    queries = [r.body for r in fake.requests if r.path.endswith("/query")]
    assert queries[0]["filter"] == {"and": [
        {"property": "SoundCloud URL", "url": {"is_not_empty": True}},
        {"property": "Downloaded", "checkbox": {"equals": False}},
    ]}


def test_pending_pages_with_a_text_url_property() -> None:
    props = {"Name": "title", "Link": "rich_text", "DL": "checkbox"}
    with FakeNotion(properties=props) as fake:
        page = fake.seed_page({"Name": "hand added", "Link": "https://soundcloud.com/x/y"})
        off = {f: "" for f in ("artist", "bpm", "key", "duration", "paths", "eagle_id", "status", "playlists", "lock")}
        config = fake.config(tuple({"title": "Name", "source_url": "Link", "downloaded": "DL", **off}.items()))
        with NotionMirror(config, limiter=RateLimiter(2000.0, burst=50), tuning=FAST) as m:
            assert m.pending_pages("unprocessed") == [(page, "https://soundcloud.com/x/y", "hand added", None)]


# ---- locks ----------------------------------------------------------------------------------
def test_lock_format_acquire_release(fake: FakeNotion) -> None:
    page = fake.seed_page({"Title": "x"})
    owner, other = LockOwner.current(), LockOwner.current()
    # a read-to-write gap longer than lock_settle skips the page: on a loaded machine 0.15 s is
    # too tight for a test that is about the lock's format, not its race
    with mirror(fake, dataclasses.replace(FAST, lock_settle=0.6)) as m:
        assert m.acquire_lock(page, owner)
        text = fake.value(page, "Processing Lock")
        lock = parse_lock(text)
        assert lock is not None and owner.holds(lock)
        pid, host, token, stamp = text.split(":")
        assert int(pid) == owner.pid and host == owner.host and token == owner.token
        assert abs(float(stamp) - time.time()) < 5
        assert not m.acquire_lock(page, other)  # fresh and someone else's
        assert not m.release_lock(page, other)
        assert m.acquire_lock(page, owner)  # ours: a refresh
        assert m.release_lock(page, owner)
        assert fake.value(page, "Processing Lock") == ""
        assert m.acquire_lock(page, other)


def test_stale_locks_expire_and_unlock_stale_clears_them(fake: FakeNotion) -> None:
    now = time.time()
    stale = fake.seed_page({"Title": "s", "Processing Lock": f"4242:elsewhere:deadbeef:{int(now - 3600)}"})
    fresh = fake.seed_page({"Title": "f", "Processing Lock": f"4242:elsewhere:cafe:{int(now - 60)}"})
    junk = fake.seed_page({"Title": "j", "Processing Lock": "someone typed this"})
    free = fake.seed_page({"Title": "free"})
    owner = LockOwner.current()
    with mirror(fake) as m:
        assert m.acquire_lock(stale, owner)  # older than 30 minutes: taken over
        assert not m.acquire_lock(fresh, owner)
        assert m.unlock_stale() == 1  # the junk text; ours and the fresh one are live
        assert fake.value(junk, "Processing Lock") == ""
        assert fake.value(fresh, "Processing Lock").endswith(str(int(now - 60)))
        assert fake.value(free, "Processing Lock") == ""
    # an hour later, the lock taken above is stale too, and the "fresh" one can be taken
    with mirror(fake, clock=lambda: now + 3600) as m:
        assert m.acquire_lock(fresh, owner)
        assert m.unlock_stale() == 1
        assert fake.value(stale, "Processing Lock") == ""
        assert owner.holds(parse_lock(fake.value(fresh, "Processing Lock")))
        assert m.unlock_stale(stale_after=-1) == 1  # `unlock` with no age limit clears the rest
    assert all(fake.value(p, "Processing Lock") == "" for p in (stale, fresh, junk, free))


def test_a_slow_lock_write_backs_off(fake: FakeNotion) -> None:
    page = fake.seed_page({"Title": "x"})
    owner = LockOwner.current()
    fake.inject(Fault.slow(0.3, method="PATCH"))  # read-to-write gap > lock_settle (0.15 s)
    with mirror(fake) as m:
        assert not m.acquire_lock(page, owner)
    # our token stays and goes stale; a lock someone may rely on is never cleared
    assert owner.holds(parse_lock(fake.value(page, "Processing Lock")))


@pytest.mark.parametrize("orders", ["same", "opposite"])
def test_concurrent_builders_never_hold_the_same_page(fake: FakeNotion, orders: str) -> None:
    pages = [fake.seed_page({"Title": f"p{i}", "SoundCloud URL": f"https://soundcloud.com/x/{i}"}) for i in range(6)]
    held: dict[str, list[str]] = {p: [] for p in pages}
    lock = threading.Lock()
    barrier = threading.Barrier(2)
    tuning = dataclasses.replace(FAST, lock_settle=0.2)

    def builder(name: str, order: list[str]) -> None:
        owner = LockOwner.current()
        mine: set[str] = set()
        with mirror(fake, tuning) as m:
            barrier.wait()
            # a lock whose write was slow (a loaded machine) is backed off and left for the next
            # run; three passes stand for three runs, so every page ends up taken by someone
            for _ in range(3):
                for page_id in order:
                    if page_id not in mine and m.acquire_lock(page_id, owner):
                        mine.add(page_id)
                        with lock:
                            held[page_id].append(name)

    a = threading.Thread(target=builder, args=("A", pages))
    b = threading.Thread(target=builder, args=("B", pages if orders == "same" else pages[::-1]))
    a.start(), b.start()
    a.join(), b.join()
    assert all(len(owners) <= 1 for owners in held.values()), held
    assert sum(len(owners) for owners in held.values()) == len(pages)  # and every page was taken


def test_a_late_writer_cannot_steal_a_verified_lock(fake: FakeNotion) -> None:
    """Both builders read the lock free; one write lands 0.1 s late. Without the wait between
    write and verification, the fast writer would verify before the late write lands and both
    would own the page."""
    page = fake.seed_page({"Title": "contended"})
    fake.inject(Fault.slow(0.1, method="PATCH"))
    barrier = threading.Barrier(2)
    winners: list[str] = []
    tuning = dataclasses.replace(FAST, lock_settle=0.3)

    def builder(name: str) -> None:
        with mirror(fake, tuning) as m:
            m.check_schema()
            barrier.wait()
            if m.acquire_lock(page, LockOwner.current()):
                winners.append(name)

    threads = [threading.Thread(target=builder, args=(n,)) for n in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert len([r for r in fake.requests if r.method == "PATCH"]) == 2  # both really competed


# ---- claims: the lock plus a look at the page (several machines, one queue) -------------------
def _page_requests(fake: FakeNotion) -> list[str]:
    return [f"{r.method} {r.path.split('/')[2]}" for r in fake.requests]


def test_a_page_built_elsewhere_is_claimed_as_built_and_never_locked(fake: FakeNotion) -> None:
    done = fake.seed_page({"Title": "done", "SoundCloud URL": URL, "Downloaded": True})
    done_locked = fake.seed_page({"Title": "done, lock not released yet", "Downloaded": True,
                                  "Processing Lock": f"4242:other:{'b' * 32}:{int(time.time())}"})
    owner = LockOwner.current()
    with mirror(fake) as m:
        m.check_schema()
        fake.clear_log()
        assert m.claim_page(done, owner) == "built"
        assert _page_requests(fake) == ["GET pages"]  # one look, no lock written
        assert m.claim_page(done_locked, owner) == "built"  # done is done, whoever still holds it
        assert fake.value(done, "Processing Lock") == ""
        fake.clear_log()
        # a page this machine built itself (its catalog has the files): a rebuild, locked as usual
        assert m.claim_page(done, owner, check_built=False) == "held"
        assert owner.holds(parse_lock(fake.value(done, "Processing Lock")))


def test_a_free_page_is_locked_and_re_read_once(fake: FakeNotion) -> None:
    todo = fake.seed_page({"Title": "todo", "SoundCloud URL": URL, "Downloaded": False})
    owner = LockOwner.current()
    with mirror(fake) as m:
        m.check_schema()
        fake.clear_log()
        assert m.claim_page(todo, owner) == "held"
        # read, write our token, and after the settle one GET: the token is ours, the page still to do
        assert _page_requests(fake) == ["GET pages", "PATCH pages", "GET pages"]
        other = LockOwner.current()
        assert m.claim_page(todo, other) == "locked"


def test_a_page_built_while_the_lock_settles_is_let_go(fake: FakeNotion) -> None:
    """A builder whose lock had gone stale finishes the page between our write and our re-read:
    the re-read sees it built, and the lock we just took is cleared at once."""
    from cratefile.sinks.notion.api import NotionApi
    from cratefile.sinks.notion.lock import PageLocks

    page = fake.seed_page({"Title": "raced", "SoundCloud URL": URL,
                           "Processing Lock": f"4242:other:{'c' * 32}:{int(time.time() - 7200)}"})
    owner = LockOwner.current()
    with mirror(fake) as m:
        report = m.check_schema()
    api = NotionApi(fake.config(), limiter=RateLimiter(2000.0, burst=50), tuning=FAST)
    try:
        def built_meanwhile(_seconds: float) -> None:
            fake.set_values(page, {"Downloaded": True, "WAV/AIFF/M4A File Path": "/x.wav"})

        locks = PageLocks(api, report, FAST, sleep=built_meanwhile)
        fake.clear_log()
        assert locks.claim(page, owner, report.built) == "built"
        assert _page_requests(fake) == ["GET pages", "PATCH pages", "GET pages", "PATCH pages"]
        assert fake.value(page, "Processing Lock") == ""  # let go: nothing to build
    finally:
        api.close()


def test_without_a_downloaded_property_file_paths_say_built() -> None:
    from fakes.notion import MUSIC_TRACKS

    props = {n: t for n, t in MUSIC_TRACKS.items() if n != "Downloaded"}
    with FakeNotion(properties=props) as fake:
        done = fake.seed_page({"Title": "d", "SoundCloud URL": URL, "WAV/AIFF/M4A File Path": "/lib/wav/d.wav"})
        todo = fake.seed_page({"Title": "t", "SoundCloud URL": URL})
        with NotionMirror(fake.config((("downloaded", ""),)), limiter=RateLimiter(2000.0, burst=50),
                          tuning=FAST) as m:
            assert m.claim_page(done, LockOwner.current()) == "built"
            assert m.claim_page(todo, LockOwner.current()) == "held"
