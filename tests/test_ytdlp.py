"""The yt-dlp source against a fake SoundCloud (and a fake podcast site) on 127.0.0.1.

yt-dlp's real extractors and downloaders run; only the network ends at the fake, through the
loopback rewrite in `urlopen()`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from yt_dlp.networking.common import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError

from cratefile.errors import Category, TrackFailure
from cratefile.records import Sidecar, TrackRef, YtdlpOptions
from cratefile.sources import ytdlp
from cratefile.sources.ytdlp_errors import classify, retry_after_seconds
from fakes.soundcloud import API, WEB, FakeSoundCloud

TOKEN = "2-294837-1234567-SecretOauthTokenXyz"
SECONDS = 3.0

# id -> (behavior, extra kwargs, expected category or None for success)
SET_TRACKS: dict[int, tuple[str, dict, Category | None]] = {
    101: ("ok", {"bpm": 124, "key": "Am"}, None),
    102: ("original_wav", {"bpm": 126}, None),
    103: ("not_found", {}, Category.NOT_FOUND),
    104: ("preview", {}, Category.PREVIEW_ONLY),
    105: ("drm", {}, Category.DRM),
    106: ("geo", {}, Category.GEO_BLOCKED),
    107: ("rate_limited:2", {}, None),
    108: ("flaky:2", {}, None),
    109: ("truncated", {}, Category.PREVIEW_ONLY),
    110: ("hls", {}, None),
    111: ("cdn_flaky:1", {}, None),
    112: ("ok", {"artwork": False}, None),
    113: ("hls_aac", {}, None),
    **{i: ("ok", {}, None) for i in range(114, 121)},
}


pytestmark = pytest.mark.usefixtures("fresh_soundcloud_auth")  # conftest: no login leaks between tests


@pytest.fixture
def fake() -> Iterator[FakeSoundCloud]:
    with FakeSoundCloud(valid_tokens={TOKEN}) as server:
        yield server


def options(fake: FakeSoundCloud, tmp_path: Path, **kw: object) -> YtdlpOptions:
    return YtdlpOptions(loopback=fake.base_url, cachedir=str(tmp_path / "yt-dlp-cache"), retries=2, **kw)


def test_set_enumerates_in_one_request_and_each_track_lands_in_its_category(
        fake: FakeSoundCloud, tmp_path: Path) -> None:
    for tid, (behavior, kw, _) in SET_TRACKS.items():
        seconds = 6.0 if behavior == "truncated" else SECONDS
        fake.add_track(tid, f"Track {tid}", f"Artist {tid % 3}", seconds, behavior, **kw)
    url = fake.add_set("curator", "warehouse-2026", SET_TRACKS)
    opts = options(fake, tmp_path)

    refs = ytdlp.enumerate_playlist(url, opts)

    assert [r.key for r in refs] == [f"soundcloud {tid}" for tid in SET_TRACKS]
    assert fake.count(API, "/resolve") == 1
    assert fake.count(API, "/tracks") == 0  # flat: no per-track requests
    assert all(r.entry["url"] and r.entry["ie_key"] == "Soundcloud" for r in refs)

    dest = tmp_path / "audio"
    fake.reset_counts()

    def attempt(ref: TrackRef) -> dict | TrackFailure:
        try:
            return ytdlp.download(ref, dest, opts, backoff=0.01)
        except TrackFailure as failure:
            return failure

    with ThreadPoolExecutor(max_workers=3) as pool:  # the engine downloads from several threads
        results = dict(zip(SET_TRACKS, pool.map(attempt, refs), strict=True))

    expected_files: set[str] = set()
    for tid, (behavior, kw, category) in SET_TRACKS.items():
        result = results[tid]
        if category is not None:
            assert isinstance(result, TrackFailure), (tid, result)
            assert result.category is category, (tid, result)
            continue
        assert isinstance(result, Sidecar), (tid, result)
        stem = f"soundcloud-{tid}"
        assert result.key == f"soundcloud {tid}"
        assert result.url == fake.url_of_track(tid)
        assert result.title == f"Track {tid}" and result.artist == f"Artist {tid % 3}"
        assert result.duration == pytest.approx(SECONDS, abs=0.15)
        assert result.declared_duration == SECONDS
        assert result.album is None  # the set is a playlist, not an album
        assert result.genre == "Electronic" and result.upload_date == "20240301"
        if behavior == "original_wav":
            assert (result.ext, result.codec, result.format_id) == ("wav", "pcm_s16le", "download")
            assert result.tags["bpm"] == 126.0
        elif behavior == "hls_aac":  # MPEG-TS segments, remuxed by ffmpeg into a real .m4a
            assert (result.ext, result.codec, result.format_id) == ("m4a", "aac", "hls_aac_160k")
        else:
            assert (result.ext, result.codec) == ("mp3", "mp3")
            assert result.bitrate == 128 and result.sample_rate == 44100 and result.channels == 2
            assert "preview" not in result.format_id
        assert result.audio == f"{stem}.{result.ext}"
        expected_files.add(result.audio)
        assert (dest / result.audio).stat().st_size > 10_000
        if kw.get("artwork") is False:
            assert result.artwork_url and "avatars-" in result.artwork_url  # SoundCloud's fallback
        else:
            assert result.artwork == f"{stem}.cover.jpg" and "t500x500" in result.artwork_url
        if result.artwork:
            expected_files.add(result.artwork)
            assert (dest / result.artwork).read_bytes()[:2] == b"\xff\xd8"

    assert results[101].tags == {"bpm": 124.0, "key": "Am"}
    assert results[110].format_id.startswith("hls_")
    # Nothing else in dest: no preview, no cut file, no .part or temporary name.
    assert set(os.listdir(dest)) == expected_files
    # 429 twice, then served; 503 twice, then served.
    assert sum(1 for h in fake.requests if h.status == 429) == 2
    assert sum(1 for h in fake.requests if h.status == 503 and h.host == API) == 2


def test_cut_file_is_deleted_and_reported_as_preview(fake: FakeSoundCloud, tmp_path: Path) -> None:
    url = fake.add_track(7, "Long One", "Cutter", 8.0, "truncated", preview_seconds=2.0)
    opts = options(fake, tmp_path)
    (ref,) = ytdlp.enumerate_playlist(url, opts)
    with pytest.raises(TrackFailure) as info:
        ytdlp.download(ref, tmp_path / "a", opts, backoff=0.01)
    assert info.value.category is Category.PREVIEW_ONLY
    assert "2 s of a 8 s" in info.value.message
    assert os.listdir(tmp_path / "a") == []


def test_a_503_storm_on_the_cdn_is_transient_with_a_real_message(fake: FakeSoundCloud, tmp_path: Path) -> None:
    # yt-dlp's downloader gives up with 'ERROR: \r[download] Got error: HTTP Error 503 ...' and no
    # HTTPError object in the chain: the status must still be read
    url = fake.add_track(8, "Storm", "Ann", 5.0, "cdn_flaky:100")
    opts = options(fake, tmp_path)
    (ref,) = ytdlp.enumerate_playlist(url, opts)
    with pytest.raises(TrackFailure) as info:
        ytdlp.download(ref, tmp_path / "a", opts, attempts=2, backoff=0.01)
    assert info.value.category is Category.TRANSIENT
    assert info.value.message == "SoundCloud says 503: temporary server error"
    assert os.listdir(tmp_path / "a") == []


def test_single_track_url_and_cached_client_id(fake: FakeSoundCloud, tmp_path: Path) -> None:
    url = fake.add_track(42, "Solo", "Lone Artist", SECONDS)
    fake.add_track(43, "Other", "Lone Artist", SECONDS, "drm")
    opts = options(fake, tmp_path)

    (ref,) = ytdlp.enumerate_playlist(url, opts)
    assert ref.key == "soundcloud 42" and ref.url == url
    assert (ref.title, ref.artist, ref.duration) == ("Solo", "Lone Artist", SECONDS)
    assert ref.entry == {"_type": "url", "url": url, "ie_key": "Soundcloud", "id": "42"}
    assert fake.count(WEB, "/") == 1  # the client_id scrape

    # A fresh YoutubeDL (other options, same cachedir) reuses the cached client_id.
    fake.reset_counts()
    other = dataclasses.replace(opts, retries=3)
    (drm_ref,) = ytdlp.enumerate_playlist(fake.url_of_track(43), other)  # undownloadable, still listed
    assert drm_ref.key == "soundcloud 43"
    assert fake.count(WEB) == 0 and fake.count("a-v2.sndcdn.com") == 0

    sidecar = ytdlp.download(ref, tmp_path / "audio", other, backoff=0.01)
    assert sidecar.audio == "soundcloud-42.mp3"


def test_stale_client_id_is_scraped_again(fake: FakeSoundCloud, tmp_path: Path) -> None:
    a = fake.add_track(1, "A", "X", SECONDS)
    b = fake.add_track(2, "B", "X", SECONDS)
    opts = options(fake, tmp_path)
    ytdlp.enumerate_playlist(a, opts)
    fake.rotate_client_id()
    fake.reset_counts()
    (ref,) = ytdlp.enumerate_playlist(b, opts)
    assert ref.key == "soundcloud 2"
    assert fake.count(WEB, "/") == 1
    assert [h.status for h in fake.requests if h.path == "/resolve"] == [401, 200]


def test_missing_set_is_a_playlist_error(fake: FakeSoundCloud, tmp_path: Path) -> None:
    with pytest.raises(ytdlp.PlaylistError) as info:
        ytdlp.enumerate_playlist(f"https://{WEB}/nobody/sets/nothing", options(fake, tmp_path))
    assert info.value.category is Category.NOT_FOUND
    assert "404" in str(info.value)


def test_oauth_token_is_used_but_never_shown(
        fake: FakeSoundCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ok = fake.add_track(1, "Members Only", "Club", SECONDS)
    gone = fake.add_track(2, "Gone", "Club", SECONDS, "not_found")
    opts = options(fake, tmp_path, oauth_token=TOKEN)

    (ref,) = ytdlp.enumerate_playlist(ok, opts)
    sidecar = ytdlp.download(ref, tmp_path / "a", opts, backoff=0.01)
    assert sidecar.audio == "soundcloud-1.mp3"
    assert fake.count("api-auth.soundcloud.com", "/connect/session", "POST") == 1
    assert {h.authorization for h in fake.requests if h.path.startswith("/media/")} == {f"OAuth {TOKEN}"}

    texts = [caplog.text, repr(opts)]
    with pytest.raises(ytdlp.PlaylistError) as listing:
        ytdlp.enumerate_playlist(gone, opts)
    texts += [str(listing.value), repr(listing.value), str(listing.value.__cause__)]
    gone_ref = TrackRef(key="soundcloud 2", url=gone, entry={"_type": "url", "url": gone, "ie_key": "Soundcloud"})
    with pytest.raises(TrackFailure) as dl:
        ytdlp.download(gone_ref, tmp_path / "a", opts, backoff=0.01)
    assert dl.value.category is Category.NOT_FOUND
    texts += [str(dl.value), dl.value.message, caplog.text]
    assert all(TOKEN not in t for t in texts)

    # A later anonymous run must not send the token (SoundcloudBaseIE._HEADERS is class-level).
    fake.reset_counts()
    anon = options(fake, tmp_path)
    ytdlp.download(ref, tmp_path / "b", anon, backoff=0.01)
    assert {h.authorization for h in fake.requests if h.host == API} == {None}


def test_rss_feed_is_a_playlist_for_the_generic_extractor(fake: FakeSoundCloud, tmp_path: Path) -> None:
    feed_url = "https://podcasts.example.org/show/feed.xml"
    items = []
    for n in (1, 2):
        media = f"https://media.example.org/episodes/ep{n}.mp3"
        fake.add_file(media, fake.audio("mp3", SECONDS), "audio/mpeg")
        items.append(
            f"<item><title>Episode {n}</title><guid isPermaLink=\"false\">show-ep-{n}</guid>"
            f'<enclosure url="{media}" length="1" type="audio/mpeg"/>'
            f"<itunes:duration>00:00:03</itunes:duration></item>"
        )
    rss = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>The Show</title><link>https://podcasts.example.org/show</link>{''.join(items)}</channel></rss>"
    )
    fake.add_file(feed_url, rss.encode(), "application/rss+xml")
    opts = options(fake, tmp_path)

    refs = ytdlp.enumerate_playlist(feed_url, opts)

    assert [(r.key, r.title, r.duration) for r in refs] == [
        ("generic show-ep-1", "Episode 1", 3.0),
        ("generic show-ep-2", "Episode 2", 3.0),
    ]
    assert refs[0].url == "https://media.example.org/episodes/ep1.mp3"
    sidecar = ytdlp.download(refs[1], tmp_path / "pod", opts, backoff=0.01)
    assert (sidecar.audio, sidecar.codec, sidecar.title) == ("generic-show-ep-2.mp3", "mp3", "Episode 2")
    assert sidecar.duration == pytest.approx(SECONDS, abs=0.15)
    assert all(h.host in ("podcasts.example.org", "media.example.org") for h in fake.requests)


def test_unsupported_site_is_classified(fake: FakeSoundCloud, tmp_path: Path) -> None:
    page = "https://www.example.com/not-media"
    fake.add_file(page, b"<html><body>Nothing to see</body></html>", "text/html")
    with pytest.raises(ytdlp.PlaylistError) as info:
        ytdlp.enumerate_playlist(page, options(fake, tmp_path))
    assert info.value.category is Category.UNSUPPORTED_URL


def test_loopback_rewrite_and_retry_after() -> None:
    base = "http://127.0.0.1:9"
    assert ytdlp.loopback_url(base, "https://api-v2.soundcloud.com/resolve?url=x&client_id=y") == (
        f"{base}/api-v2.soundcloud.com/resolve?url=x&client_id=y"
    )
    assert ytdlp.loopback_url(base, "https://soundcloud.com") == f"{base}/soundcloud.com/"
    assert ytdlp.loopback_url(base, f"{base}/cf-media.sndcdn.com/a.mp3") == f"{base}/cf-media.sndcdn.com/a.mp3"
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("3600") == 60.0  # capped
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None


def _http_error(status: int, **headers: str) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "https://api-v2.soundcloud.com/tracks/1", headers, status=status))


def _download_error(inner: BaseException) -> DownloadError:
    """What YoutubeDL.report_error raises: the cause in exc_info, message with decorations."""
    try:
        raise inner
    except BaseException:  # noqa: BLE001 - only to capture sys.exc_info()
        return DownloadError(f"ERROR: [soundcloud] 1: {inner}", sys.exc_info())


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (_download_error(ExtractorError("Unable to download JSON", cause=_http_error(404))), Category.NOT_FOUND),
        (_http_error(429, **{"Retry-After": "7"}), Category.RATE_LIMITED),  # escapes unwrapped
        (_download_error(ExtractorError("x", cause=_http_error(503))), Category.TRANSIENT),
        (_download_error(TransportError("Connection reset by peer")), Category.TRANSIENT),
        (_download_error(GeoRestrictedError("not available from your location")), Category.GEO_BLOCKED),
        (ExtractorError("Requested format is not available", expected=True), Category.PREVIEW_ONLY),
        (_download_error(ExtractorError("An extractor error has occurred. (caused by KeyError('id'))")),
         Category.EXTRACTOR_BROKEN),
        (_download_error(ExtractorError("Video unavailable", expected=True)), Category.DOWNLOAD_FAILED),
    ],
)
def test_classify_walks_the_chain(exc: BaseException, category: Category) -> None:
    failure = classify(exc, site="SoundCloud")
    assert failure.category is category, failure
    assert not failure.message.startswith("ERROR")
    if category is Category.RATE_LIMITED:
        assert failure.retry_after == 7.0
    if category is Category.NOT_FOUND:
        assert failure.message == "SoundCloud says 404: deleted or private"


def test_classify_context_chain_and_redaction() -> None:
    try:
        try:
            raise _http_error(410)
        except HTTPError:
            # No `from`: yt-dlp often chains only through __context__, which classify must walk.
            raise ExtractorError(f"gone for {TOKEN}", expected=True)  # noqa: B904
    except ExtractorError as exc:
        failure = classify(exc, site="SoundCloud", secrets=[TOKEN])
    assert failure.category is Category.NOT_FOUND
    broken = classify(ExtractorError(f"bad response for {TOKEN}"), secrets=[TOKEN])
    assert broken.category is Category.EXTRACTOR_BROKEN
    assert TOKEN not in broken.message and "***" in broken.message


def test_a_429_pauses_every_download_from_that_site(tmp_path: Path) -> None:
    """After one track's 429 with Retry-After: 1, the next track's download waits it out too."""
    import time

    with FakeSoundCloud() as fake:
        fake.add_track(71, "Limited", "Gate", 3)
        fake.add_track(72, "Fine", "Gate", 3)
        opts = YtdlpOptions(retries=0, loopback=fake.base_url, cachedir=str(tmp_path / "cache"))
        (limited,) = ytdlp.enumerate_playlist(fake.url_of_track(71), opts)
        (fine,) = ytdlp.enumerate_playlist(fake.url_of_track(72), opts)
        fake.set_behavior(71, "rate_limited:9")  # 429 + Retry-After: 1 on its stream URL from now on
        with pytest.raises(TrackFailure) as caught:
            ytdlp.download(limited, tmp_path / "a", opts, attempts=1)
        assert caught.value.category is Category.RATE_LIMITED
        started = time.monotonic()
        ytdlp.download(fine, tmp_path / "b", opts, attempts=1)
        assert time.monotonic() - started >= 0.8  # held by the other track's Retry-After
