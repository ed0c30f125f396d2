"""SoundCloud search (api-v2 `/search/tracks`) in the fake, driven by the real yt-dlp
`scsearchN:` extractor through cratefile's loopback rewrite, and its raw shapes read the way
resolution reads them (`Hit.from_api`)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cratefile.errors import Category
from cratefile.records import YtdlpOptions
from cratefile.resolve.hits import Hit
from cratefile.sources import ytdlp
from fakes.soundcloud import API, FakeSoundCloud

pytestmark = pytest.mark.usefixtures("fresh_soundcloud_auth")  # conftest: no login leaks between tests


@pytest.fixture
def fake() -> Iterator[FakeSoundCloud]:
    with FakeSoundCloud() as server:
        yield server


def options(fake: FakeSoundCloud, tmp_path: Path) -> YtdlpOptions:
    return YtdlpOptions(loopback=fake.base_url, cachedir=str(tmp_path / "yt-dlp-cache"), retries=0)


def searches(fake: FakeSoundCloud) -> list[dict[str, str]]:
    return [h.query for h in fake.requests if h.host == API and h.path == "/search/tracks"]


def raw_search(fake: FakeSoundCloud, **query: Any) -> tuple[int, dict[str, Any]]:
    """api-v2 directly (no yt-dlp), to read the JSON exactly as the fake sends it."""
    url = f"{fake.base_url}/{API}/search/tracks?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def add_catalogue(fake: FakeSoundCloud) -> dict[str, int]:
    """A realistic result list for 'Solomun Home': the original is not the most played."""
    fake.add_track(1, "Home", "Solomun", 412, plays=9_000, verified=True, followers=900_000,
                   isrc="DEU761900123", release_title="Home EP", label_name="Diynamic")
    fake.add_track(2, "Solomun - Home (Tale Of Us Remix)", "Tale Of Us", 455, plays=250_000)
    fake.add_track(3, "Solomun - Home", "deep house uploads", 412, plays=40_000, publisher_artist=None)
    fake.add_track(4, "Home (Original Mix)", "Diynamic", 412, "preview", publisher_artist="Solomun",
                   plays=3_000, label_name="Diynamic")
    fake.add_track(5, "Home Again", "Someone Else", 300, plays=1_000_000)  # one word of two: matches
    fake.add_track(6, "Unrelated Tune", "Nobody", 300, plays=5_000_000)
    fake.add_track(7, "Home", "Solomun Fan", 412, "not_found", plays=70_000)  # deleted: never found
    return {"remix": 2, "reupload": 3, "original": 1, "preview": 4, "half": 5}


def test_scsearch_lists_by_relevance_not_correctness(fake: FakeSoundCloud, tmp_path: Path) -> None:
    ids = add_catalogue(fake)

    refs = ytdlp.enumerate_playlist("scsearch10:Solomun Home", options(fake, tmp_path))

    # Both words everywhere except 'Home Again'; among those, the most played first.
    assert [r.key for r in refs] == [f"soundcloud {ids[k]}" for k in ("remix", "reupload", "original", "preview",
                                                                    "half")]
    assert searches(fake) == [{"q": "Solomun Home", "limit": "10", "offset": "0", "linked_partitioning": "1",
                               "client_id": fake.client_id}]
    first = refs[0]
    assert first.title == "Solomun - Home (Tale Of Us Remix)" and first.entry["uploader"] == "Tale Of Us"
    assert first.duration == 455 and first.entry["view_count"] == 250_000
    preview = next(r for r in refs if r.key == "soundcloud 4")
    assert preview.duration == 30  # all that shows of a Go+ preview in yt-dlp's flat entry
    assert preview.entry["artists"] == ["Solomun"]


def test_scsearch_follows_next_href_past_one_page(fake: FakeSoundCloud, tmp_path: Path) -> None:
    for i in range(12):
        fake.add_track(100 + i, f"Acid Track {i}", f"Producer {i}", 300, plays=1000 - i)
    fake.add_track(200, "Not acid at all", "x", 300)
    fake.search_page_max = 5  # as if the real cap of 200 were 5: paging without 200 tracks

    refs = ytdlp.enumerate_playlist("scsearch11:acid track", options(fake, tmp_path))

    assert [r.key for r in refs] == [f"soundcloud {100 + i}" for i in range(11)]
    pages = searches(fake)
    assert [(p["offset"], p["limit"]) for p in pages] == [("0", "11"), ("5", "5"), ("10", "5")]
    assert all(p["client_id"] == fake.client_id and p["q"] == "acid track" for p in pages)
    assert len({p["query_urn"] for p in pages[1:]}) == 1  # next_href carries the query's urn


def test_limit_is_capped_at_200_and_the_rest_paged(fake: FakeSoundCloud, tmp_path: Path) -> None:
    for i in range(205):
        fake.add_track(1000 + i, f"Loop {i}", "Looper", 60, plays=10_000 - i)

    refs = ytdlp.enumerate_playlist("scsearch203:loop looper", options(fake, tmp_path))

    assert len(refs) == 203 and refs[0].key == "soundcloud 1000" and refs[-1].key == "soundcloud 1202"
    assert [(p["offset"], p["limit"]) for p in searches(fake)] == [("0", "200"), ("200", "200")]


def test_raw_page_shapes(fake: FakeSoundCloud) -> None:
    add_catalogue(fake)

    status, page = raw_search(fake, q="solomun home", limit=2, offset=0, linked_partitioning=1,
                              client_id=fake.client_id)

    assert status == 200 and set(page) == {"collection", "total_results", "next_href", "query_urn"}
    assert page["total_results"] == 5 and [t["id"] for t in page["collection"]] == [2, 3]
    assert page["query_urn"].startswith("soundcloud:search:")
    nxt = urllib.parse.urlsplit(page["next_href"])
    assert (nxt.scheme, nxt.netloc, nxt.path) == ("https", API, "/search/tracks")
    nq = dict(urllib.parse.parse_qsl(nxt.query))
    assert nq["offset"] == "2" and nq["limit"] == "2" and nq["q"] == "solomun home" and "client_id" not in nq

    _, second = raw_search(fake, **nq, client_id=fake.client_id)
    assert [t["id"] for t in second["collection"]] == [1, 4]
    third = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(second["next_href"]).query))
    status, last = raw_search(fake, **third, client_id=fake.client_id)
    assert status == 200 and [t["id"] for t in last["collection"]] == [5] and last["next_href"] is None

    _, full = raw_search(fake, q="solomun home", limit=10, client_id=fake.client_id)
    by_id = {t["id"]: t for t in full["collection"]}
    original, preview, reupload = by_id[1], by_id[4], by_id[3]
    assert original["user"]["verified"] and original["user"]["badges"]["verified"]
    assert original["user"]["followers_count"] == 900_000 and original["label_name"] == "Diynamic"
    assert original["publisher_metadata"]["isrc"] == "DEU761900123"
    assert original["publisher_metadata"]["release_title"] == "Home EP"
    assert "artist" not in reupload["publisher_metadata"] and not reupload["user"]["verified"]
    assert (preview["policy"], preview["duration"], preview["full_duration"]) == ("SNIP", 30000, 412000)
    assert preview["publisher_metadata"]["artist"] == "Solomun" and preview["user"]["username"] == "Diynamic"

    hits = {h.key: h for h in map(Hit.from_api, full["collection"]) if h is not None}
    assert len(hits) == 5
    assert hits["soundcloud 4"].preview_only and not hits["soundcloud 1"].preview_only
    assert hits["soundcloud 1"].verified and hits["soundcloud 1"].isrc == "DEU761900123"
    assert hits["soundcloud 1"].length == 412 and hits["soundcloud 4"].length == 412
    assert hits["soundcloud 2"].plays == 250_000 and hits["soundcloud 2"].artist == "Tale Of Us"


def test_search_needs_a_client_id_and_a_query(fake: FakeSoundCloud) -> None:
    add_catalogue(fake)
    assert raw_search(fake, q="home")[0] == 401
    assert raw_search(fake, q="home", client_id="stale" * 6)[0] == 401
    assert raw_search(fake, q="", client_id=fake.client_id)[0] == 400


def test_search_folds_case_and_accents(fake: FakeSoundCloud) -> None:
    fake.add_track(1, "Innerbloom", "RÜFÜS DU SOL", 580)
    _, page = raw_search(fake, q="rufus du sol innerbloom", limit=5, client_id=fake.client_id)
    assert [t["id"] for t in page["collection"]] == [1]
    _, none = raw_search(fake, q="completely different words", limit=5, client_id=fake.client_id)
    assert none["collection"] == [] and none["total_results"] == 0 and none["next_href"] is None


def test_a_429_is_waited_out_for_its_retry_after(fake: FakeSoundCloud, tmp_path: Path) -> None:
    add_catalogue(fake)
    fake.set_search_behavior("rate_limited:1")

    started = time.monotonic()
    refs = ytdlp.enumerate_playlist("scsearch3:solomun home", options(fake, tmp_path), backoff=0.01)

    assert len(refs) == 3
    assert [h.status for h in fake.requests if h.path == "/search/tracks"] == [429, 200]
    assert time.monotonic() - started >= 0.9  # Retry-After: 1


def test_503s_are_retried_then_given_up(fake: FakeSoundCloud, tmp_path: Path) -> None:
    add_catalogue(fake)
    fake.set_search_behavior("flaky:2")
    refs = ytdlp.enumerate_playlist("scsearch2:solomun home", options(fake, tmp_path), attempts=3, backoff=0.01)
    assert len(refs) == 2 and [h.status for h in fake.requests if h.path == "/search/tracks"] == [503, 503, 200]

    fake.reset_counts()
    fake.set_search_behavior("flaky:5")
    with pytest.raises(ytdlp.PlaylistError) as caught:
        ytdlp.enumerate_playlist("scsearch2:solomun home", options(fake, tmp_path), attempts=3, backoff=0.01)
    assert caught.value.category is Category.TRANSIENT
    assert len(searches(fake)) == 3


def test_unknown_search_behavior_is_refused(fake: FakeSoundCloud) -> None:
    with pytest.raises(ValueError, match="unknown behavior 'geo'"):
        fake.set_search_behavior("geo")
