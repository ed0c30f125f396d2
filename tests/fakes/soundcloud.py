"""A fake SoundCloud on 127.0.0.1 that yt-dlp's real soundcloud extractor cannot tell apart.

cratefile's loopback rewrite sends `https://<host>/<path>?<query>` to
`http://127.0.0.1:PORT/<host>/<path>?<query>`, so one server plays every host: the web site
(home page whose last script holds `client_id:"<32 chars>"`), api-v2 (`/resolve`,
`/tracks/<id>`, `/tracks?ids=`, `/playlists/<id>`, `/tracks/<id>/download`, the media
transcodings that answer a stream-URL JSON), api-auth (`/connect/session` for OAuth tokens),
the CDNs (progressive MP3, HLS, preview, original download) and the artwork host, and search
(`/search/tracks`, see `search_json`). JSON shapes
follow api-v2 as the extractor reads them: a set lists its first five tracks in full and the
rest as `{id, kind, policy, monetization_model}` stubs; geo-blocked tracks have policy BLOCK and
no transcodings; DRM-only tracks only have `ctr-`/`cbc-encrypted-hls` transcodings; Go+ tracks
have policy SNIP, `duration` the preview's length (30000 for a full-size track) with
`full_duration` the whole track's, and `snipped` transcodings whose stream URLs are `/preview/0/30/...`.

Search ranks like a text search, not an oracle: the count of query words found in the title,
the uploader's name and `publisher_metadata.artist`, ties broken by plays; so a popular remix or
re-upload outranks the original exactly as on the real site. A track matches when it has at
least half of the query's words. `search_page_max` (200, api-v2's cap) can be lowered to make
paging cheap to test; `set_search_behavior('rate_limited:N,flaky:N')` makes the next N searches
answer 429 (Retry-After: 1) or 503.

Audio is real: generated with ffmpeg once per (length, kind) per server, tagged per track
with mutagen when a track is given `bpm`/`key`. Static files for other sites (an RSS feed,
its enclosures) are added with `add_file`.

Per-track behaviours, comma-separated, `name:N` for counts:
  ok, not_found, geo, drm, preview, truncated (media shorter than declared, not flagged),
  rate_limited:N (429 + Retry-After: 1 on the stream-URL JSON, N times), flaky:N (503 on the
  track JSON, N times), cdn_flaky:N (503 on the media file, N times), original_wav,
  hls (HLS MP3 transcoding only), hls_aac (adds the HLS AAC 160k transcoding yt-dlp prefers:
  MPEG-TS segments that only ffmpeg turns into .m4a), slow[:seconds] (delay before media bytes).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import math
import re
import secrets
import shutil
import string
import tempfile
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import mutagen.id3
import mutagen.mp3
import mutagen.wave

from cratefile.proc import ffmpeg_exe, run
from fakes.server import LoopbackServer

API = "api-v2.soundcloud.com"
WEB = "soundcloud.com"
AUTH = "api-auth.soundcloud.com"
ASSETS = "a-v2.sndcdn.com"
MEDIA = "cf-media.sndcdn.com"
PREVIEW = "cf-preview-media.sndcdn.com"
HLS = "cf-hls-media.sndcdn.com"
AAC_HLS = "playback.media-streaming.soundcloud.cloud"
DOWNLOAD = "cf-download.sndcdn.com"
IMAGES = "i1.sndcdn.com"

BEHAVIORS = frozenset(
    {"ok", "not_found", "geo", "drm", "preview", "truncated", "rate_limited", "flaky",
     "cdn_flaky", "original_wav", "hls", "hls_aac", "slow"}
)
SEARCH_BEHAVIORS = frozenset({"ok", "rate_limited", "flaky"})
SEARCH_PAGE_MAX = 200  # api-v2 answers at most 200 results per page
FULL_IN_SET = 5  # api-v2 sends the first five tracks of a set in full, the rest as stubs
SIGNED = "Policy=eyJTdGF0ZW1lbnQiOltdfQ__&Signature=c2lnbmF0dXJl&Key-Pair-Id=APKAI6TU7MMXM5DG6EPQ"


class Hit(NamedTuple):
    """One request the fake answered."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int


@dataclass
class FakeTrack:
    id: int
    title: str
    artist: str
    seconds: float
    behaviors: dict[str, float]
    user: dict[str, Any]
    permalink: str
    secret: str  # the opaque part of media/artwork URLs
    genre: str = "Electronic"
    bpm: float | None = None
    key: str | None = None
    artwork: bool = True
    preview_seconds: float = 30.0
    created_at: str = "2024-03-01T12:00:00Z"
    plays: int = 42
    likes: int = 3
    isrc: str | None = None
    release_title: str | None = None
    publisher_artist: str | None = None  # publisher_metadata.artist: None leaves it out
    label_name: str | None = None

    @property
    def permalink_url(self) -> str:
        return f"https://{WEB}/{self.user['permalink']}/{self.permalink}"

    def has(self, name: str) -> bool:
        return name in self.behaviors


@dataclass
class FakeSet:
    id: int
    title: str
    user: dict[str, Any]
    permalink: str
    track_ids: list[int] = field(default_factory=list)

    @property
    def permalink_url(self) -> str:
        return f"https://{WEB}/{self.user['permalink']}/sets/{self.permalink}"


class _Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def _json(obj: Any, status: int = 200, **headers: str) -> _Response:
    return _Response(status, {"Content-Type": "application/json; charset=utf-8", **headers},
                     json.dumps(obj).encode())


def _error(status: int, **headers: str) -> _Response:
    reason = http.HTTPStatus(status).phrase
    return _json({"errors": [{"error_message": f"{status} - {reason}"}]}, status, **headers)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _words(text: str) -> list[str]:
    """Lower-case words without accents, as a search index splits text."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.findall(r"[a-z0-9]+", "".join(c for c in folded if not unicodedata.combining(c)))


def parse_behavior(spec: str, known: frozenset[str] = BEHAVIORS) -> dict[str, float]:
    """'rate_limited:2,original_wav' -> {'rate_limited': 2.0, 'original_wav': 0.0}."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, arg = part.partition(":")
        if name not in known:
            raise ValueError(f"unknown behavior {name!r} (known: {', '.join(sorted(known))})")
        out[name] = float(arg) if arg else 0.0
    out.pop("ok", None)
    return out


class FakeSoundCloud(LoopbackServer):
    """The fake: a stateful ThreadingHTTPServer. Use as a context manager, or start()/stop()."""

    def __init__(self, *, valid_tokens: Iterable[str] = (), search_behavior: str = "ok",
                 api_budget: tuple[int, float] | None = None) -> None:
        """api_budget (requests, seconds): api-v2 answers 429 with a Retry-After once more than
        `requests` arrived within the last `seconds`, as SoundCloud does (about 600 per 10 minutes)."""
        self.api_budget = api_budget
        self._api_times: list[float] = []
        self.budget_refusals = 0
        alphabet = string.ascii_letters + string.digits
        self.client_id = "".join(secrets.choice(alphabet) for _ in range(32))
        self.valid_tokens = set(valid_tokens)
        self.tracks: dict[int, FakeTrack] = {}
        self.sets: dict[int, FakeSet] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._files: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._counts: dict[tuple[int, str], int] = {}  # (track, behavior) -> failures served
        self.search_page_max = SEARCH_PAGE_MAX
        self._search_faults = parse_behavior(search_behavior, SEARCH_BEHAVIORS)
        self._search_served: dict[str, int] = {}
        self._media: dict[tuple[int, str], bytes] = {}
        self._base_audio: dict[tuple[str, float], Path] = {}
        self._hits: list[Hit] = []
        self._lock = threading.RLock()
        self._gen_lock = threading.Lock()
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-soundcloud-"))

    # ---- lifecycle -------------------------------------------------------------------------

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def base_url(self) -> str:
        return self.url

    # ---- catalogue -------------------------------------------------------------------------

    def _user(self, name: str) -> dict[str, Any]:
        if name not in self._users:
            uid = 1000 + len(self._users)
            permalink = _slug(name)
            self._users[name] = {
                "avatar_url": f"https://{IMAGES}/avatars-{uid:012d}-{permalink[:6]}-large.jpg",
                "first_name": "", "last_name": "", "full_name": "", "city": None,
                "country_code": None, "followers_count": 0, "id": uid, "kind": "user",
                "last_modified": "2024-01-01T00:00:00Z", "permalink": permalink,
                "permalink_url": f"https://{WEB}/{permalink}", "uri": f"https://api.soundcloud.com/users/{uid}",
                "urn": f"soundcloud:users:{uid}", "username": name, "verified": False,
                "badges": {"pro": False, "creator_mid_tier": False, "verified": False},
                "station_urn": f"soundcloud:system-playlists:artist-stations:{uid}",
                "station_permalink": f"artist-stations:{uid}",
            }
        return self._users[name]

    def add_track(
        self, id: int, title: str, artist: str, seconds: float, behavior: str = "ok", **kw: Any
    ) -> str:
        """Add a track uploaded by `artist`; returns its permalink URL.

        kw: genre, bpm, key, artwork, preview_seconds, created_at; plays, likes, isrc,
        release_title, label_name; publisher_artist (publisher_metadata.artist: the uploader's
        name unless given; None leaves it out, as most uploads do); and for the uploader:
        verified (user.verified and badges.verified), followers (followers_count)."""
        with self._lock:
            user = self._user(artist)
            if "verified" in kw:
                user["verified"] = user["badges"]["verified"] = bool(kw.pop("verified"))
            if "followers" in kw:
                user["followers_count"] = int(kw.pop("followers"))
            kw.setdefault("publisher_artist", artist)
            preview = float(kw.pop("preview_seconds", min(30.0, seconds / 3)))
            track = FakeTrack(
                id=id, title=title, artist=artist, seconds=float(seconds),
                behaviors=parse_behavior(behavior), user=user, permalink=f"{_slug(title)}-{id}",
                secret=secrets.token_hex(6), preview_seconds=preview, **kw,
            )
            self.tracks[id] = track
            return track.permalink_url

    def set_behavior(self, id: int, behavior: str) -> None:
        with self._lock:
            self.tracks[id].behaviors = parse_behavior(behavior)
            self._counts = {k: v for k, v in self._counts.items() if k[0] != id}

    def set_search_behavior(self, behavior: str) -> None:
        """Faults of the next searches: 'rate_limited:N' (429, Retry-After: 1), 'flaky:N' (503)."""
        with self._lock:
            self._search_faults = parse_behavior(behavior, SEARCH_BEHAVIORS)
            self._search_served.clear()

    def url_of_track(self, id: int) -> str:
        return self.tracks[id].permalink_url

    def add_set(self, user: str, slug: str, track_ids: Iterable[int], title: str | None = None) -> str:
        with self._lock:
            sid = 5000 + len(self.sets)
            s = FakeSet(sid, title or slug.replace("-", " ").title(), self._user(user), slug, list(track_ids))
            self.sets[sid] = s
            return s.permalink_url

    def append_to_set(self, url: str, track_ids: Iterable[int]) -> None:
        with self._lock:
            self._set_by_url(url).track_ids.extend(track_ids)

    def _set_by_url(self, url: str) -> FakeSet:
        for s in self.sets.values():
            if s.permalink_url == url.rstrip("/"):
                return s
        raise KeyError(url)

    def add_file(self, url: str, body: bytes, content_type: str) -> None:
        """Serve `body` for an absolute URL of any other site (reached via the loopback rewrite)."""
        parts = urllib.parse.urlsplit(url)
        with self._lock:
            self._files[(parts.hostname or "", parts.path)] = (body, content_type)

    def rotate_client_id(self) -> None:
        """A new client_id: cached ones now get 401, as after a SoundCloud deploy."""
        self.client_id = "".join(secrets.choice(string.ascii_letters) for _ in range(32))

    # ---- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def count(self, host: str | None = None, path: str = "", method: str | None = None) -> int:
        """How many requests matched host, a path prefix and a method."""
        return sum(
            1 for h in self.requests
            if (host is None or h.host == host) and h.path.startswith(path) and (method is None or h.method == method)
        )

    def reset_counts(self) -> None:
        with self._lock:
            self._hits.clear()

    def _log(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def _fail_first(self, track: FakeTrack, behavior: str) -> bool:
        """True (and count it) while `behavior` still has failures to serve for `track`."""
        with self._lock:
            if behavior not in track.behaviors:
                return False
            served = self._counts.get((track.id, behavior), 0)
            if served >= track.behaviors[behavior]:
                return False
            self._counts[(track.id, behavior)] = served + 1
            return True

    # ---- audio -----------------------------------------------------------------------------

    def _base(self, kind: str, seconds: float) -> Path:
        """An ffmpeg-generated file, once per (kind, length): 'mp3' (128k stereo), 'wav',
        'ts' (AAC 160k in MPEG-TS, an HLS segment), 'jpg'."""
        with self._gen_lock:
            key = (kind, round(seconds, 3))
            if key not in self._base_audio:
                out = self._tmp / f"base-{kind}-{seconds:.3f}.{kind}"
                src = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=44100", "-ac", "2"]
                codec = {"mp3": ["-c:a", "libmp3lame", "-b:a", "128k"], "wav": ["-c:a", "pcm_s16le"],
                         "ts": ["-c:a", "aac", "-b:a", "160k", "-f", "mpegts"]}
                if kind == "jpg":
                    args = ["-f", "lavfi", "-i", "color=c=orange:s=64x64", "-frames:v", "1", "-f", "mjpeg"]
                else:
                    args = src + codec[kind]
                run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)])
                self._base_audio[key] = out
            return self._base_audio[key]

    def audio(self, kind: str, seconds: float) -> bytes:
        """Plain generated audio ('mp3' or 'wav'), e.g. for files served with add_file."""
        return self._base(kind, seconds).read_bytes()

    def media_bytes(self, track: FakeTrack, kind: str) -> bytes:
        """kind: 'mp3' (full, or shortened for 'truncated'), 'preview' (mp3), 'wav' (original)."""
        with self._lock:
            cached = self._media.get((track.id, kind))
        if cached is not None:
            return cached
        seconds = track.seconds
        if kind == "preview" or (kind == "mp3" and track.has("truncated")):
            seconds = track.preview_seconds
        base = self._base("wav" if kind == "wav" else "mp3", seconds)
        path = self._tmp / f"t{track.id}-{kind}{base.suffix}"
        shutil.copyfile(base, path)
        if track.bpm is not None or track.key is not None:
            audio = mutagen.wave.WAVE(path) if kind == "wav" else mutagen.mp3.MP3(path)
            if audio.tags is None:
                audio.add_tags()
            if track.bpm is not None:
                audio.tags.add(mutagen.id3.TBPM(encoding=3, text=[str(round(track.bpm))]))
            if track.key is not None:
                audio.tags.add(mutagen.id3.TKEY(encoding=3, text=[track.key]))
            audio.save()
        data = path.read_bytes()
        with self._lock:
            self._media[(track.id, kind)] = data
        return data

    # ---- JSON shapes -----------------------------------------------------------------------

    def _transcodings(self, t: FakeTrack) -> list[dict[str, Any]]:
        # Each transcoding has its own uuid; its second group tells the fake which one it is.
        media = f"https://{API}/media/soundcloud:tracks:{t.id}/{t.secret}-0001-4000-8000-{t.id:012d}"
        aac_media = media.replace("-0001-", "-0002-")
        ms = round(t.seconds * 1000)
        mp3 = {"protocol": "progressive", "mime_type": "audio/mpeg"}
        hls = {"protocol": "hls", "mime_type": "audio/mpeg"}
        common = {"preset": "mp3_0_0", "quality": "sq", "is_legacy_transcoding": True}
        if t.has("geo"):
            return []
        if t.has("drm"):
            aac = {"mime_type": 'audio/mp4; codecs="mp4a.40.2"'}
            return [
                {"url": f"{media}/stream/hls", "preset": "aac_160k", "duration": ms, "snipped": False,
                 "format": {"protocol": "ctr-encrypted-hls", **aac}, "quality": "hq", "is_legacy_transcoding": False},
                {"url": f"{media}/stream/hls", "preset": "aac_160k", "duration": ms, "snipped": False,
                 "format": {"protocol": "cbc-encrypted-hls", **aac}, "quality": "hq", "is_legacy_transcoding": False},
            ]
        if t.has("preview"):
            pms = round(t.preview_seconds * 1000)
            return [
                {"url": f"{media}/preview/progressive", "duration": pms, "snipped": True, "format": mp3, **common},
                {"url": f"{media}/preview/hls", "duration": pms, "snipped": True, "format": hls, **common},
            ]
        out = [{"url": f"{media}/stream/hls", "duration": ms, "snipped": False, "format": hls, **common}]
        if not t.has("hls"):
            progressive = {"url": f"{media}/stream/progressive", "duration": ms, "snipped": False, "format": mp3}
            out.insert(0, {**progressive, **common})
        if t.has("hls_aac"):
            out.insert(0, {"url": f"{aac_media}/stream/hls", "preset": "aac_160k", "duration": ms, "snipped": False,
                           "format": {"protocol": "hls", "mime_type": 'audio/mp4; codecs="mp4a.40.2"'},
                           "quality": "sq", "is_legacy_transcoding": False})
        return out

    def track_json(self, t: FakeTrack) -> dict[str, Any]:
        ms = round(t.seconds * 1000)
        plays_ms = round(t.preview_seconds * 1000) if t.has("preview") else ms  # a Go+ preview plays 30 s
        policy = "BLOCK" if t.has("geo") else "SNIP" if t.has("preview") else "ALLOW"
        publisher: dict[str, Any] = {"id": t.id, "urn": f"soundcloud:tracks:{t.id}", "contains_music": True}
        if t.publisher_artist is not None:
            publisher["artist"] = t.publisher_artist
        if t.isrc is not None:
            publisher["isrc"] = t.isrc
        if t.release_title is not None:
            publisher["release_title"] = t.release_title
        artwork = f"https://{IMAGES}/artworks-{t.secret}-{t.id % 997}x-large.jpg" if t.artwork else None
        return {
            "artwork_url": artwork, "caption": None, "commentable": True, "comment_count": 0,
            "created_at": t.created_at, "description": f"{t.title} by {t.artist}",
            "downloadable": t.has("original_wav"), "download_count": 0, "duration": plays_ms,
            "full_duration": ms, "embeddable_by": "all", "genre": t.genre,
            "has_downloads_left": True, "id": t.id, "kind": "track", "label_name": t.label_name,
            "last_modified": t.created_at, "license": "all-rights-reserved", "likes_count": t.likes,
            "permalink": t.permalink, "permalink_url": t.permalink_url, "playback_count": t.plays,
            "public": True, "publisher_metadata": publisher,
            "purchase_title": None, "purchase_url": None, "release_date": None, "reposts_count": 0,
            "secret_token": None, "sharing": "public", "state": "finished", "streamable": True,
            "tag_list": 'house "deep house"', "title": t.title, "track_format": "single-track",
            "uri": f"https://api.soundcloud.com/tracks/{t.id}", "urn": f"soundcloud:tracks:{t.id}",
            "user_id": t.user["id"], "visuals": None, "waveform_url": f"https://wave.sndcdn.com/{t.secret}_m.json",
            "display_date": t.created_at,
            "media": {"transcodings": self._transcodings(t)},
            "station_urn": f"soundcloud:system-playlists:track-stations:{t.id}",
            "station_permalink": f"track-stations:{t.id}", "track_authorization": secrets.token_hex(16),
            "monetization_model": "SUB_HIGH_TIER" if t.has("preview") else "NOT_APPLICABLE",
            "policy": policy, "user": t.user,
        }

    def search_ranking(self, q: str) -> list[FakeTrack]:
        """The tracks a search for `q` finds, best first (see the module docstring)."""
        wanted = set(_words(q))
        need = max(1, math.ceil(len(wanted) / 2))
        scored: list[tuple[int, int, int, FakeTrack]] = []
        with self._lock:
            for t in self.tracks.values():
                if t.has("not_found"):
                    continue  # private or deleted: not in search either
                found = len(wanted & set(_words(f"{t.title} {t.user['username']} {t.publisher_artist or ''}")))
                if wanted and found >= need:
                    scored.append((-found, -t.plays, t.id, t))
        return [t for *_, t in sorted(scored, key=lambda s: s[:3])]

    def search_json(self, query: dict[str, str]) -> dict[str, Any]:
        """One page of api-v2 `/search/tracks`: full track objects, the total, the next page's
        absolute URL (offset advanced; no client_id, as api-v2 sends it) or None at the end."""
        q = query.get("q", "")
        limit = max(1, min(int(query.get("limit") or 10), self.search_page_max))
        offset = max(0, int(query.get("offset") or 0))
        found = self.search_ranking(q)
        page = found[offset:offset + limit]
        urn = f"soundcloud:search:{hashlib.md5(q.encode()).hexdigest()}"
        next_href = None
        if offset + len(page) < len(found):
            rest = {"q": q, "query_urn": urn, "offset": offset + limit, "limit": limit,
                    "linked_partitioning": 1}
            next_href = f"https://{API}/search/tracks?{urllib.parse.urlencode(rest)}"
        return {"collection": [self.track_json(t) for t in page], "total_results": len(found),
                "next_href": next_href, "query_urn": urn}

    def _search_fault(self) -> _Response | None:
        with self._lock:
            for name, status in (("rate_limited", 429), ("flaky", 503)):
                served = self._search_served.get(name, 0)
                if served < self._search_faults.get(name, 0):
                    self._search_served[name] = served + 1
                    return _error(status, **({"Retry-After": "1"} if status == 429 else {}))
        return None

    def set_json(self, s: FakeSet) -> dict[str, Any]:
        tracks: list[dict[str, Any]] = []
        for i, tid in enumerate(s.track_ids):
            t = self.tracks[tid]
            if i < FULL_IN_SET and not t.has("not_found"):
                tracks.append(self.track_json(t))
            else:
                tracks.append({"id": tid, "kind": "track", "monetization_model": "NOT_APPLICABLE",
                               "policy": "ALLOW"})
        return {
            "artwork_url": None, "created_at": "2024-01-01T00:00:00Z", "description": None,
            "duration": sum(round(self.tracks[i].seconds * 1000) for i in s.track_ids),
            "embeddable_by": "all", "genre": "", "id": s.id, "kind": "playlist", "label_name": None,
            "last_modified": "2024-01-01T00:00:00Z", "license": "all-rights-reserved",
            "likes_count": 0, "managed_by_feeds": False, "permalink": s.permalink,
            "permalink_url": s.permalink_url, "public": True, "purchase_title": None,
            "purchase_url": None, "release_date": None, "reposts_count": 0, "secret_token": None,
            "sharing": "public", "tag_list": "", "title": s.title,
            "uri": f"https://api.soundcloud.com/playlists/{s.id}", "user_id": s.user["id"],
            "set_type": "", "is_album": False, "published_at": "2024-01-01T00:00:00Z",
            "display_date": "2024-01-01T00:00:00Z", "user": s.user, "tracks": tracks,
            "track_count": len(s.track_ids),
        }

    # ---- routing ---------------------------------------------------------------------------

    def handle(self, method: str, host: str, path: str, query: dict[str, str], body: bytes) -> _Response:
        if (host, path) in self._files:
            body, ctype = self._files[(host, path)]
            return _Response(200, {"Content-Type": ctype}, body)
        if host == WEB:
            return self._web(path)
        if host == ASSETS:
            return self._asset(path)
        if host == API:
            refused = self._over_budget()
            if refused is not None:
                return refused
            if query.get("client_id") != self.client_id:
                return _json({"error": "invalid_client"}, 401)
            return self._api(path, query)
        if host == AUTH and method == "POST" and path == "/connect/session":
            return self._session(body)
        if host in (MEDIA, PREVIEW, HLS, DOWNLOAD, AAC_HLS):
            return self._cdn(host, path)
        if host == IMAGES and re.fullmatch(r"/(artworks|avatars)-[\w-]+\.(jpg|png)", path):
            if path.endswith(".png"):
                return _error(404)
            return _Response(200, {"Content-Type": "image/jpeg"}, self._base("jpg", 0).read_bytes())
        return _error(404)

    def _over_budget(self) -> _Response | None:
        if self.api_budget is None:
            return None
        limit, window = self.api_budget
        with self._lock:
            now = time.monotonic()
            self._api_times = [t for t in self._api_times if t > now - window]
            if len(self._api_times) >= limit:
                self.budget_refusals += 1
                wait = max(1, int(self._api_times[0] + window - now + 0.999))
                return _json({"code": 429, "message": "Too Many Requests"}, 429, **{"Retry-After": str(wait)})
            self._api_times.append(now)
        return None

    def _web(self, path: str) -> _Response:
        if path in ("", "/"):
            html = (
                "<!DOCTYPE html><html><head><title>SoundCloud</title></head><body>"
                f'<script crossorigin src="https://{ASSETS}/assets/0-2f0c5e2a.js"></script>'
                f'<script crossorigin src="https://{ASSETS}/assets/49-4786a5d6.js"></script>'
                "</body></html>"
            )
            return _Response(200, {"Content-Type": "text/html; charset=utf-8"}, html.encode())
        return _Response(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>app</body></html>")

    def _asset(self, path: str) -> _Response:
        if path.endswith("49-4786a5d6.js"):
            js = f'(function(){{var e={{env:"production",client_id:"{self.client_id}",api:"{API}"}}}})();'
        elif path.endswith("0-2f0c5e2a.js"):
            js = "(function(){var vendor=1;})();"
        else:
            return _error(404)
        return _Response(200, {"Content-Type": "application/javascript"}, js.encode())

    def _session(self, body: bytes) -> _Response:
        """yt-dlp verifies an OAuth token by POSTing it here; unknown tokens get 401."""
        try:
            token = json.loads(body or b"{}")["session"]["access_token"]
        except (ValueError, KeyError, TypeError):
            return _error(400)
        if token not in self.valid_tokens:
            return _error(401)
        return _json({"session": {"access_token": token, "expires_at": None}})

    def _lookup_track(self, tid: int) -> FakeTrack | None:
        t = self.tracks.get(tid)
        return None if t is None or t.has("not_found") else t

    def _track_response(self, t: FakeTrack | None) -> _Response:
        if t is None:
            return _error(404)
        if self._fail_first(t, "flaky"):
            return _error(503)
        return _json(self.track_json(t))

    def _api(self, path: str, query: dict[str, str]) -> _Response:
        if path == "/resolve":
            target = urllib.parse.urlsplit(query.get("url", ""))
            wanted = f"https://{WEB}{target.path.rstrip('/')}"
            for s in self.sets.values():
                if s.permalink_url == wanted:
                    return _json(self.set_json(s))
            for t in self.tracks.values():
                if t.permalink_url == wanted:
                    return self._track_response(self._lookup_track(t.id))
            return _error(404)
        if path == "/search/tracks":
            if not query.get("q"):
                return _error(400)
            return self._search_fault() or _json(self.search_json(query))
        if path == "/tracks":
            ids = [int(i) for i in query.get("ids", "").split(",") if i.isdigit()]
            found = [self._lookup_track(i) for i in ids]
            return _json([self.track_json(t) for t in found if t is not None])
        if m := re.fullmatch(r"/tracks/(\d+)", path):
            return self._track_response(self._lookup_track(int(m[1])))
        if m := re.fullmatch(r"/tracks/(\d+)/download", path):
            t = self._lookup_track(int(m[1]))
            if t is None or not t.has("original_wav"):
                return _error(404)
            return _json({"redirectUri": f"https://{DOWNLOAD}/{t.secret}?{SIGNED}"})
        if m := re.fullmatch(r"/playlists/(\d+)", path):
            s = self.sets.get(int(m[1]))
            return _json(self.set_json(s)) if s else _error(404)
        if m := re.fullmatch(r"/media/soundcloud:tracks:(\d+)/([\w-]+)/(stream|preview)/(progressive|hls)", path):
            t = self._lookup_track(int(m[1]))
            if t is None:
                return _error(404)
            if self._fail_first(t, "rate_limited"):
                return _error(429, **{"Retry-After": "1"})
            if m[3] == "preview":
                return _json({"url": f"https://{PREVIEW}/preview/0/30/{t.secret}.128.mp3?{SIGNED}"})
            if "-0002-" in m[2]:
                return _json({"url": f"https://{AAC_HLS}/{t.secret}/aac_160k/{m[2]}/playlist.m3u8?expires=1"})
            if m[4] == "hls":
                return _json({"url": f"https://{HLS}/playlist/{t.secret}.128.mp3/playlist.m3u8?{SIGNED}"})
            return _json({"url": f"https://{MEDIA}/{t.secret}.128.mp3?{SIGNED}"})
        return _error(404)

    def _track_by_secret(self, secret: str) -> FakeTrack | None:
        with self._lock:
            return next((t for t in self.tracks.values() if t.secret == secret), None)

    def _cdn(self, host: str, path: str) -> _Response:
        m = re.search(r"/([0-9a-f]{12})(?:\.128\.mp3)?(?:/|$)", path)
        t = self._track_by_secret(m[1]) if m else None
        if t is None:
            return _error(404)
        if self._fail_first(t, "cdn_flaky"):
            return _error(503)
        if t.has("slow"):
            time.sleep(t.behaviors["slow"] or 0.5)
        seconds = t.preview_seconds if t.has("truncated") else t.seconds
        if host == AAC_HLS:
            if path.endswith(".m3u8"):
                m3u8 = (
                    "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                    f"#EXT-X-TARGETDURATION:{int(seconds) + 1}\n#EXT-X-MEDIA-SEQUENCE:0\n"
                    f"#EXTINF:{seconds:.3f},\nhttps://{AAC_HLS}{path.rsplit('/', 1)[0]}/data0.ts?expires=1\n"
                    "#EXT-X-ENDLIST\n"
                )
                return _Response(200, {"Content-Type": "application/vnd.apple.mpegurl"}, m3u8.encode())
            return _Response(200, {"Content-Type": "video/mp2t"}, self._base("ts", seconds).read_bytes())
        if host == HLS and path.endswith(".m3u8"):
            m3u8 = (
                "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                f"#EXT-X-TARGETDURATION:{int(seconds) + 1}\n#EXT-X-MEDIA-SEQUENCE:0\n"
                f"#EXTINF:{seconds:.3f},\nhttps://{HLS}/media/0/{int(seconds * 1000)}/{t.secret}.128.mp3?{SIGNED}\n"
                "#EXT-X-ENDLIST\n"
            )
            return _Response(200, {"Content-Type": "application/vnd.apple.mpegurl"}, m3u8.encode())
        if host == DOWNLOAD:
            if not t.has("original_wav"):
                return _error(404)
            disposition = f'attachment;filename="{t.permalink}.wav"'
            return _Response(200, {"Content-Type": "audio/x-wav", "Content-Disposition": disposition},
                             self.media_bytes(t, "wav"))
        kind = "preview" if host == PREVIEW else "mp3"
        if kind == "mp3" and t.has("preview"):
            return _error(403)  # a Go+ track's full stream is not for this client
        return _Response(200, {"Content-Type": "audio/mpeg"}, self.media_bytes(t, kind))


class _Handler(http.server.BaseHTTPRequestHandler):
    fake: FakeSoundCloud
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return

    def _serve(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        host, _, rest = parts.path.lstrip("/").partition("/")
        path = "/" + rest
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            resp = self.fake.handle(method, host, path, query, body)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must answer 500, not hang
            resp = _Response(500, {"Content-Type": "text/plain"}, repr(exc).encode())
        status, headers, payload = resp
        rng = self.headers.get("Range")
        if status == 200 and rng and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())):
            start, end = int(m[1]), int(m[2]) if m[2] else len(payload) - 1
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(payload)}"}
            payload, status = payload[start:end + 1], 206
        self.fake._log(Hit(method, host, path, query, self.headers.get("Authorization"), status))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")
