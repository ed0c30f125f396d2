"""The yt-dlp source: SoundCloud first, any URL yt-dlp understands.

`enumerate_playlist` lists a playlist flat (one API request per SoundCloud set);
`download` fetches one track to `<dest_dir>/<stem>.<ext>` (plus its cover art) and returns
the typed Sidecar. Failures become `TrackFailure`s with a category (see `ytdlp_errors`).

yt-dlp facts this module relies on (REFERENCE.md): one long-lived `YoutubeDL` per thread;
`retries` default to 0 in the Python API; a preview slips through `bestaudio`, so the format
string refuses previews and the measured duration is checked; yt-dlp's own final move is not
atomic, so we download under a temporary name and `os.replace` ourselves; `urlopen()` is the
single choke point for every request, which is where tests redirect traffic to loopback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from yt_dlp import YoutubeDL
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE
from yt_dlp.networking import Request
from yt_dlp.networking.exceptions import RequestError
from yt_dlp.utils import unsmuggle_url

from cratefile.atomic import write_bytes
from cratefile.errors import Category, SourceError, TrackFailure
from cratefile.net import RateLimiter, limiter, retrying
from cratefile.proc import ffmpeg_exe
from cratefile.records import Sidecar, TrackRef, YtdlpOptions
from cratefile.sources import soundcloud_budget
from cratefile.sources.probe import probe_audio
from cratefile.sources.ytdlp_errors import RETRY_AFTER_CAP, RETRYABLE, classify, redact

log = logging.getLogger(__name__)
T = TypeVar("T")

# Never a preview: SoundCloud marks Go+ 30-second previews with 'preview' in the format id.
FORMAT = "bestaudio[format_id!*=preview]/best[format_id!*=preview]"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SOCKET_TIMEOUT = 30.0
ARTWORK_PREFERENCE = ("t500x500", "crop", "t300x300")  # DJ software wants ~500 px, not 3000

Role = Literal["enumerate", "download"]


class PlaylistError(SourceError):
    """A playlist could not be enumerated as a whole (not found, private, rate limited, ...)."""

    def __init__(self, message: str, category: Category) -> None:
        super().__init__(message, category)
        self.category: Category = category


# ---- plumbing: logger, loopback, one YoutubeDL per thread -----------------------------------


class _Logger:
    """yt-dlp's logger protocol, sent to Python logging with secrets blanked out.

    yt-dlp's errors become exceptions we classify, so they are logged at DEBUG only.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets

    def _clean(self, msg: str) -> str:
        return redact(msg, self._secrets).removeprefix("[debug] ")

    def debug(self, msg: str) -> None:
        log.debug("%s", self._clean(msg))

    def info(self, msg: str) -> None:
        log.debug("%s", self._clean(msg))

    def warning(self, msg: str) -> None:
        text = self._clean(msg).removeprefix("WARNING: ")
        # imageio-ffmpeg ships no ffprobe; yt-dlp's fixups then fall back to ffmpeg and work.
        log.log(logging.DEBUG if "ffprobe" in text else logging.WARNING, "yt-dlp: %s", text)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", self._clean(msg).removeprefix("ERROR: "))


def loopback_url(loopback: str, url: str) -> str:
    """'https://api-v2.soundcloud.com/resolve?url=x' -> '<loopback>/api-v2.soundcloud.com/resolve?url=x'.

    URLs already on loopback, and non-HTTP URLs, are left alone.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") in LOOPBACK_HOSTS:
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{loopback.rstrip('/')}/{parts.hostname}{parts.path or '/'}{query}"


class _PacedYoutubeDL(YoutubeDL):  # type: ignore[misc]  # yt-dlp has no type information
    """Every request to SoundCloud's API takes a slot of the process's one pacer first."""

    def __init__(self, params: dict[str, Any], api_budget: tuple[int, float]) -> None:
        self._api_budget = api_budget
        super().__init__(params)

    def urlopen(self, req: Any) -> Any:
        if isinstance(req, str):
            req = Request(req)
        if isinstance(req, Request):
            soundcloud_budget.pace(req.url, self._api_budget)
            req.url = self._rewrite(req.url)
        return super().urlopen(req)

    def _rewrite(self, url: str) -> str:
        return url


class _LoopbackYoutubeDL(_PacedYoutubeDL):
    """Tests only: every request for a non-loopback host goes to the fake server instead."""

    def __init__(self, params: dict[str, Any], api_budget: tuple[int, float], loopback: str) -> None:
        self._loopback = loopback
        super().__init__(params, api_budget)

    def _rewrite(self, url: str) -> str:
        return loopback_url(self._loopback, url)


def _is_soundcloud(url: str | None, ie_key: str | None = None) -> bool:
    host = (urllib.parse.urlsplit(url or "").hostname or "").lower()
    return (ie_key or "").lower().startswith("soundcloud") or host == "soundcloud.com" or host.endswith(
        (".soundcloud.com", "snd.sc")
    )


def _backoff_seconds(n: int) -> float:
    """Pause before yt-dlp's own HTTP/fragment retry n (0-based): 1, 2, 4, ... 30 s."""
    return min(2.0**n, 30.0)


def _params(opts: YtdlpOptions, role: Role, soundcloud_login: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        "quiet": True,
        "noprogress": True,
        "logger": _Logger(tuple(filter(None, [opts.oauth_token]))),
        "retries": opts.retries,
        "fragment_retries": opts.retries,
        # Our retry loop owns 429s (honouring Retry-After); yt-dlp's would retry at once.
        "extractor_retries": 0,
        "retry_sleep_functions": {"http": _backoff_seconds, "fragment": _backoff_seconds},
        "ffmpeg_location": ffmpeg_exe(),
        # No cachedir configured: no cache at all, rather than one in the user's home.
        "cachedir": opts.cachedir or False,
        "cookiefile": opts.cookiefile,
        "proxy": opts.proxy,
        "ratelimit": opts.ratelimit,
        "nocheckcertificate": opts.nocheckcertificate,
        "sleep_interval_requests": opts.sleep_requests or None,
        "socket_timeout": SOCKET_TIMEOUT,
        "format": FORMAT,
    }
    if soundcloud_login:
        # yt-dlp's way to use a SoundCloud OAuth token. Only on SoundCloud instances: other
        # extractors read the same params (YouTube refuses username 'oauth').
        params["username"] = "oauth"
        params["password"] = opts.oauth_token
    if role == "enumerate":
        params["extract_flat"] = "in_playlist"
        # A single-track URL is fully extracted; a DRM/geo/preview track must still list.
        params["ignore_no_formats_error"] = True
    else:
        params["noplaylist"] = True
        params["playlistend"] = 1  # an entry that turns out to be a playlist costs one track
        params["continuedl"] = False
    return params


_local = threading.local()
_auth_lock = threading.Lock()
_auth_state: dict[str, Any] = {"token": None, "generation": 0}


def reset_soundcloud_auth() -> None:
    """Forget SoundCloud's login. `SoundcloudBaseIE._HEADERS` is a class-level dict: once one
    YoutubeDL has logged in, every SoundCloud request in the process sends that token, and new
    instances skip the login. Clearing it (and rebuilding cached instances) is the only way to
    switch tokens; tests call this between cases. Do not run two accounts at once."""
    with _auth_lock:
        SoundcloudBaseIE._HEADERS.clear()
        _auth_state["generation"] += 1
        _auth_state["token"] = None


def _ydl(opts: YtdlpOptions, role: Role, soundcloud: bool) -> YoutubeDL:
    """This thread's YoutubeDL for these options (sleep_interval_requests spaces the requests
    of one instance only, so instances live long)."""
    login = soundcloud and bool(opts.oauth_token)
    with _auth_lock:
        if soundcloud and opts.oauth_token != _auth_state["token"]:
            SoundcloudBaseIE._HEADERS.clear()
            _auth_state["generation"] += 1
            _auth_state["token"] = opts.oauth_token
        generation = _auth_state["generation"]
    cache: dict[tuple[Any, ...], YoutubeDL] = _local.__dict__.setdefault("ydls", {})
    # opts compares without its token (compare=False), so the token is part of the key.
    key = (role, login, opts, opts.oauth_token if login else None, generation if soundcloud else 0)
    ydl = cache.get(key)
    if ydl is None:
        for stale in [k for k in cache if k[:2] == key[:2] and k[2] == opts and k != key]:
            cache.pop(stale).close()
        params = _params(opts, role, login)
        budget = opts.soundcloud_api_budget
        ydl = _LoopbackYoutubeDL(params, budget, opts.loopback) if opts.loopback else _PacedYoutubeDL(params, budget)
        cache[key] = ydl
    return ydl


def _retrying(fn: Callable[[], T], attempts: int, backoff: float, what: str) -> T:
    """yt-dlp's calls through the one retry path (net.retrying): the rate limits and
    transient failures `classify` names are retried, Retry-After honoured (capped)."""

    def retry_after(exc: BaseException) -> float | None:
        after: float | None = getattr(exc, "retry_after", None)
        return min(after, RETRY_AFTER_CAP) if after else None

    def transient(e: BaseException) -> bool:  # a server asking for longer than the cap: a later run
        return (isinstance(e, TrackFailure) and e.category in RETRYABLE
                and (getattr(e, "retry_after", None) or 0.0) <= RETRY_AFTER_CAP)

    return retrying(
        fn,
        is_transient=transient,
        retry_after=retry_after,
        attempts=attempts,
        base_delay=backoff * 2,  # backoff_delay's mean is 3/4 of its ceiling: about 1.5 x backoff first
        max_delay=RETRY_AFTER_CAP,
        on_retry=lambda exc, wait: log.info("%s: %s; retrying in %.1f s", what, exc, wait),
    )


def _site(url: str | None, ie_key: str | None) -> str:
    if _is_soundcloud(url, ie_key):
        return "SoundCloud"
    return (urllib.parse.urlsplit(url or "").hostname or ie_key or "the site").removeprefix("www.")


# ---- enumeration ----------------------------------------------------------------------------


def enumerate_playlist(url: str, opts: YtdlpOptions, *, attempts: int = 3, backoff: float = 2.0) -> list[TrackRef]:
    """The tracks of a playlist URL in order (a single-track URL gives one), without downloading.

    Flat: a SoundCloud set costs one API request whatever its size, so entries carry no
    title/artist/duration; those come with the download.
    """
    ydl = _ydl(opts, "enumerate", _is_soundcloud(url))
    secrets = (opts.oauth_token,)

    def extract() -> dict[str, Any]:
        try:
            info = ydl.extract_info(url, download=False)
        except Exception as exc:  # yt-dlp lets raw HTTPError/RequestError/ExtractorError escape
            raise classify(exc, site=_site(url, None), secrets=secrets) from exc
        if not isinstance(info, dict):
            raise TrackFailure(Category.EXTRACTOR_BROKEN, "yt-dlp returned nothing for this URL")
        return info

    try:
        info = _retrying(extract, attempts, backoff, redact(url, secrets))
    except TrackFailure as failure:
        raise PlaylistError(f"{redact(url, secrets)}: {failure.message}", failure.category) from failure

    if info.get("_type") in ("playlist", "multi_video"):
        refs = [_ref_from_flat(ydl, e) for e in info.get("entries") or [] if e]
    else:
        refs = [_ref_from_video(info)]
    unique: dict[str, TrackRef] = {}
    for ref in refs:
        if ref is None:
            continue
        if ref.key in unique:
            log.info("%s: %s is listed twice; keeping the first", url, ref.key)
            continue
        unique[ref.key] = ref
    return list(unique.values())


_ENTRY_DROP = re.compile(r"^(playlist|n_entries|__|original_url|webpage_url|extractor|epoch|_version|release_year)")


def _clean_entry(ydl: YoutubeDL, entry: dict[str, Any]) -> dict[str, Any]:
    """The flat entry, JSON-able, without what describes the playlist rather than the track."""
    clean = ydl.sanitize_info(entry, remove_private_keys=True)
    return {k: v for k, v in clean.items() if k == "_type" or not _ENTRY_DROP.match(k)}


def _ref_from_flat(ydl: YoutubeDL, entry: dict[str, Any]) -> TrackRef | None:
    url = entry.get("url") or entry.get("webpage_url")
    if not url:
        return None
    plain_url, smuggled = unsmuggle_url(url, {})
    ie_key = entry.get("ie_key") or entry.get("extractor_key")
    if not ie_key:
        ie_key = next((k for k, ie in ydl._ies.items() if ie.suitable(url)), None)
    video_id = entry.get("id") or smuggled.get("force_videoid")
    if not video_id and ie_key == "Generic":
        # What the generic extractor will call it: the file name without its extension.
        video_id = urllib.parse.unquote(os.path.splitext(os.path.basename(urllib.parse.urlsplit(plain_url).path))[0])
    if not ie_key or not video_id:
        log.warning("skipping a playlist entry without an id: %s", plain_url)
        return None
    duration = entry.get("duration")
    return TrackRef(
        key=f"{ie_key.lower()} {video_id}",
        url=plain_url,
        title=entry.get("title"),
        artist=entry.get("artist") or entry.get("uploader") or entry.get("channel"),
        duration=float(duration) if isinstance(duration, int | float) else None,
        entry=_clean_entry(ydl, entry),
    )


def _ref_from_video(info: dict[str, Any]) -> TrackRef:
    ie_key = info.get("extractor_key") or info.get("ie_key") or "generic"
    # yt-dlp fills in webpage_url for every video it extracts
    url = cast(str, info.get("webpage_url") or info.get("original_url") or info.get("url"))
    duration = info.get("duration")
    return TrackRef(
        key=f"{ie_key.lower()} {info['id']}",
        url=url,
        title=info.get("title"),
        artist=_artist(info),
        duration=float(duration) if isinstance(duration, int | float) else None,
        entry={"_type": "url", "url": url, "ie_key": ie_key, "id": str(info["id"])},
    )


def _artist(info: dict[str, Any]) -> str | None:
    artists = info.get("artists")
    if info.get("artist"):
        return str(info["artist"])
    if isinstance(artists, list) and artists:
        return ", ".join(map(str, artists))
    return info.get("uploader") or info.get("creator") or info.get("channel")


# ---- download -------------------------------------------------------------------------------


def download(ref: TrackRef, dest_dir: Path, opts: YtdlpOptions, *, attempts: int = 4, backoff: float = 2.0) -> Sidecar:
    """Download one track to `dest_dir/<ref.stem>.<ext>` and return its Sidecar.

    Retries rate limits and transient errors `attempts` times (exponential from `backoff`
    seconds, Retry-After honoured up to a minute), then raises the TrackFailure. A preview,
    however it slipped through, is deleted and reported as PREVIEW_ONLY.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    entry = ref.entry or {}
    if _is_soundcloud(entry.get("url") or ref.url, entry.get("ie_key")):  # outside the retries: a long
        soundcloud_budget.wait_out(opts.cachedir, opts.soundcloud_api_budget)  # pause is for a later run
    return _retrying(lambda: _download_once(ref, dest_dir, opts), attempts, backoff, ref.key)


def _gate(site: str) -> RateLimiter:
    """The process-wide pause of one site: a 429's Retry-After holds every download thread,
    not only the one that got it (parallel workers each retrying on their own just thrash)."""
    return limiter(f"site {site}", lambda: RateLimiter(1000.0, burst=1000))  # no pacing, only the shared pause


def _download_once(ref: TrackRef, dest_dir: Path, opts: YtdlpOptions) -> Sidecar:
    entry = dict(ref.entry) or {"_type": "url", "url": ref.url}
    site = _site(entry.get("url") or ref.url, entry.get("ie_key"))
    try:
        return _fetch_track(ref, entry, site, dest_dir, opts)
    except TrackFailure as failure:
        after = getattr(failure, "retry_after", None)
        if failure.category is Category.RATE_LIMITED and after:
            _gate(site).pause_for(min(after, RETRY_AFTER_CAP))  # longer: the tracks fail now, for a later run
            if site == "SoundCloud":
                soundcloud_budget.remember(opts.cachedir, opts.soundcloud_api_budget, after)
        raise


def _fetch_track(ref: TrackRef, entry: dict[str, Any], site: str, dest_dir: Path, opts: YtdlpOptions) -> Sidecar:
    _gate(site).acquire()
    ydl = _ydl(opts, "download", _is_soundcloud(entry.get("url") or ref.url, entry.get("ie_key")))
    secrets = (opts.oauth_token,)
    prefix = f".{ref.stem}.{uuid.uuid4().hex[:8]}.dl"
    ydl.params["outtmpl"]["default"] = str(dest_dir / f"{prefix}.%(ext)s")
    try:
        try:
            info = ydl.process_ie_result(entry, download=True)
        except Exception as exc:  # yt-dlp lets raw HTTPError/RequestError/ExtractorError escape
            raise classify(exc, site=site, secrets=secrets) from exc
        if not isinstance(info, dict) or info.get("_type") in ("playlist", "multi_video"):
            raise TrackFailure(Category.UNSUPPORTED_URL, "this entry is a playlist, not a track")
        downloaded = [Path(d["filepath"]) for d in info.get("requested_downloads") or [] if d.get("filepath")]
        if not downloaded or not downloaded[0].is_file():
            raise TrackFailure(Category.DOWNLOAD_FAILED, "yt-dlp reported success but wrote no file")
        tmp = downloaded[0]
        ext = tmp.suffix.lstrip(".").lower()
        facts = probe_audio(tmp)
        declared = info.get("duration")
        measured = facts.duration
        if measured is None:
            raise TrackFailure(Category.DOWNLOAD_FAILED, f"the downloaded {ext} file is not readable audio")
        if isinstance(declared, int | float) and measured < 0.9 * declared - 2.0:
            raise TrackFailure(
                Category.PREVIEW_ONLY,
                f"got {measured:.0f} s of a {declared:.0f} s track from {site}: a preview or a cut file",
            )
        final = dest_dir / f"{ref.stem}.{ext}"
        os.replace(tmp, final)
    finally:
        _remove_leftovers(dest_dir, prefix)
    artwork, artwork_url = _save_artwork(ydl, info, dest_dir, ref.stem)
    return Sidecar(
        key=ref.key,
        url=info.get("webpage_url") or ref.url,
        audio=final.name,
        ext=ext,
        codec=facts.codec or info.get("acodec"),
        bitrate=facts.bitrate or _int(info.get("abr")),
        sample_rate=facts.sample_rate or _int(info.get("asr")),
        channels=facts.channels or _int(info.get("audio_channels")),
        duration=measured,
        declared_duration=float(declared) if isinstance(declared, int | float) else None,
        title=info.get("title") or ref.title,
        artist=_artist(info) or ref.artist,
        # A SoundCloud set of type 'playlist' is somebody's playlist, not the track's album.
        album=None if info.get("album_type") == "playlist" else info.get("album"),
        genre=info.get("genre") or next(iter(info.get("genres") or []), None),
        upload_date=info.get("upload_date"),
        format_id=info.get("format_id"),
        artwork=artwork,
        artwork_url=artwork_url,
        tags=facts.tags,
    )


def _int(value: Any) -> int | None:
    return round(value) if isinstance(value, int | float) else None


def _remove_leftovers(dest_dir: Path, prefix: str) -> None:
    """Whatever this attempt left under its temporary prefix (.part, fragments, a preview)."""
    for leftover in dest_dir.glob(f"{glob_escape(prefix)}*"):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            leftover.unlink()


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _save_artwork(ydl: YoutubeDL, info: dict[str, Any], dest_dir: Path, stem: str) -> tuple[str | None, str | None]:
    """Save the cover next to the audio; a missing cover never fails the track."""
    thumbs = {t.get("id"): t.get("url") for t in info.get("thumbnails") or [] if t.get("url")}
    url = next((thumbs[i] for i in ARTWORK_PREFERENCE if thumbs.get(i)), None) or info.get("thumbnail")
    if not url:
        return None, None
    try:
        with ydl.urlopen(Request(url)) as resp:
            data = resp.read()
            ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    except (RequestError, OSError) as exc:
        log.warning("%s: cover art not saved (%s)", stem, exc)
        return None, url
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}.get(ctype)
    ext = ext or (Path(urllib.parse.urlsplit(url).path).suffix.lstrip(".").lower() or "jpg")
    name = f"{stem}.cover.{ext}"
    write_bytes(dest_dir / name, data)
    return name, url


__all__ = [
    "FORMAT",
    "PlaylistError",
    "download",
    "enumerate_playlist",
    "loopback_url",
    "reset_soundcloud_auth",
]
