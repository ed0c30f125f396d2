"""SoundCloud's request budget: downloads from several threads share one pacer sized from
`download.soundcloud_api_budget`, so a fake that enforces a budget never has to refuse them; a
long 429 is remembered across runs in cache/ytdlp/ and the next run does not knock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cratefile.errors import Category, TrackFailure
from cratefile.records import YtdlpOptions
from cratefile.sources import soundcloud_budget, ytdlp
from fakes.soundcloud import API, FakeSoundCloud


@pytest.fixture(autouse=True)
def _no_token_left() -> Iterator[None]:
    yield
    from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

    SoundcloudBaseIE._HEADERS.pop("Authorization", None)


def opts(fake: FakeSoundCloud, tmp: Path, budget: tuple[int, float]) -> YtdlpOptions:
    return YtdlpOptions(loopback=fake.base_url, cachedir=str(tmp / "ytdlp"), soundcloud_api_budget=budget, retries=2)


def download_all(fake: FakeSoundCloud, tmp: Path, budget: tuple[int, float], tracks: int) -> list[str]:
    set_url = fake.add_set("DJ Budget", f"crate-{budget[0]}", range(1, tracks + 1))
    o = opts(fake, tmp, budget)
    refs = ytdlp.enumerate_playlist(set_url, o)
    errors: list[str] = []
    lock = threading.Lock()

    def one(ref):  # noqa: ANN001, ANN202
        try:
            ytdlp.download(ref, tmp / "audio", o, attempts=4, backoff=0.2)
        except TrackFailure as exc:
            with lock:
                errors.append(f"{ref.key}: {exc}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, refs))
    return errors


@pytest.mark.slow
def test_four_threads_stay_under_soundclouds_budget_and_unpaced_ones_do_not(tmp_path: Path) -> None:
    # the fake refuses more than 24 API requests in any 2 s; cratefile is told the budget is 20 per 2 s
    with FakeSoundCloud(api_budget=(24, 2.0)) as fake:
        for i in range(1, 31):
            fake.add_track(i, f"Tune {i:02d}", "DJ Budget", 2)
        errors = download_all(fake, tmp_path / "paced", (20, 2.0), 30)
        assert errors == [] and fake.budget_refusals == 0
        assert fake.count(API) >= 60  # two per track (track JSON, stream URL) and the set: the budget was used
    with FakeSoundCloud(api_budget=(24, 2.0)) as fake:  # the same build told of no budget: refused
        for i in range(1, 31):
            fake.add_track(i, f"Tune {i:02d}", "DJ Budget", 2)
        download_all(fake, tmp_path / "unpaced", (100_000, 1.0), 30)
        assert fake.budget_refusals > 0


def test_a_long_429_is_remembered_and_the_next_run_does_not_knock(tmp_path: Path) -> None:
    # two API requests per 300 s: the set and one track's JSON pass, then 429 with Retry-After ~300
    with FakeSoundCloud(api_budget=(2, 300.0)) as fake:
        for i in (1, 2):
            fake.add_track(i, f"Tune {i}", "DJ Budget", 2)
        set_url = fake.add_set("DJ Budget", "crate", [1, 2])
        o = opts(fake, tmp_path, (600, 600.0))
        refs = ytdlp.enumerate_playlist(set_url, o)
        with pytest.raises(TrackFailure) as first:
            ytdlp.download(refs[0], tmp_path / "audio", o, attempts=4, backoff=0.2)
        assert first.value.category is Category.RATE_LIMITED
        assert fake.budget_refusals == 1  # a long Retry-After is not retried within the run
        saved = json.loads((tmp_path / "ytdlp" / soundcloud_budget.COOLDOWN_NAME).read_text())
        assert saved["asked_seconds"] >= 250
        fake.reset_counts()
        with pytest.raises(TrackFailure, match="a 429 of an earlier run") as later:
            ytdlp.download(refs[1], tmp_path / "audio", o, attempts=4, backoff=0.2)
        assert later.value.category is Category.RATE_LIMITED  # transient: retried by a later run
        assert fake.requests == []  # the remembered pause kept us off the API
