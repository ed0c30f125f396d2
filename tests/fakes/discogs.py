"""A fake Discogs API on 127.0.0.1: collections, folders, releases, the rate limit.

What it answers, in Discogs' shapes:
- `GET /users/{u}/collection/folders` → `{"folders": [{id, name, count, resource_url}]}`:
  the owner sees 0 All, 1 Uncategorized and the named folders; anyone else sees only 0 of a
  public collection and 403 for a private one; an unknown user is 404.
- `GET /users/{u}/collection/folders/{id}/releases?page=&per_page=&sort=&sort_order=` →
  `{"pagination": {page, pages, per_page, items, urls {first?, prev?, next?, last?}},
  "releases": [{id, instance_id, folder_id, rating, date_added, basic_information}]}`;
  per_page is capped at 100; a page past the last is 404.
- `GET /releases/{id}` → the release (`tracklist` with headings, index tracks and sub-tracks,
  credits with anv/join/role/tracks, `uri`, `resource_url`); unknown → 404.
- `GET /oauth/identity` → who the token belongs to.
Every answer carries `X-Discogs-Ratelimit`, `-Used` and `-Remaining` over a moving window
(60 requests a minute with a token, 25 without; configurable, with an injectable clock so a
test can run the minute on fake time); over it, 429 "You are making requests too quickly."
with no Retry-After. A request with a wrong token is 401; one without a User-Agent is 403
(Discogs asks every app to send one; the exact refusal is not documented). Faults (a status
for the next N requests) can be queued. Every request is logged.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from fakes.server import LoopbackServer, reply

TOKEN = "dGhpc2lzYWZha2VkaXNjb2dzdG9rZW4wMTIzNDU2"
NO_PERMISSION = "You don't have permission to access this resource."
NO_USER = "User does not exist or may have been deleted."
NO_AUTH = "You must authenticate to access this resource."
TOO_QUICK = "You are making requests too quickly."
PUBLIC = "https://api.discogs.com"  # where resource_url and uri point, as on the real service


# ---------------------------------------------------------------- release builders (Discogs' shapes)


def credit(name: str, *, anv: str = "", join: str = "", role: str = "", tracks: str = "",
           artist_id: int | None = None) -> dict[str, Any]:
    artist_id = artist_id if artist_id is not None else zlib.crc32(name.encode()) % 9_000_000 + 1000
    return {"name": name, "anv": anv, "join": join, "role": role, "tracks": tracks, "id": artist_id,
            "resource_url": f"{PUBLIC}/artists/{artist_id}"}


def track(position: str, title: str, duration: str = "", *, artists: Sequence[dict[str, Any]] | None = None,
          extraartists: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"position": position, "type_": "track", "title": title, "duration": duration}
    if artists:
        out["artists"] = list(artists)
    if extraartists:
        out["extraartists"] = list(extraartists)
    return out


def heading(title: str) -> dict[str, Any]:
    return {"position": "", "type_": "heading", "title": title, "duration": ""}


def index(title: str, sub_tracks: Sequence[dict[str, Any]], *, position: str = "",
          artists: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"position": position, "type_": "index", "title": title, "duration": "",
                           "sub_tracks": list(sub_tracks)}
    if artists:
        out["artists"] = list(artists)
    return out


def release(release_id: int, title: str, artists: Sequence[dict[str, Any]], tracklist: Sequence[dict[str, Any]],
            *, extraartists: Sequence[dict[str, Any]] = (), year: int = 1996, fmt: str = "Vinyl",
            descriptions: Sequence[str] = ('12"',), label: str = "Test Label") -> dict[str, Any]:
    slug = "-".join(w for w in "".join(c if c.isalnum() else " " for c in title).split())
    names = "".join((a["anv"] or a["name"]) + (f" {a['join']} " if a["join"] else "") for a in artists)
    return {
        "id": release_id, "status": "Accepted", "year": year, "title": title,
        "resource_url": f"{PUBLIC}/releases/{release_id}",
        "uri": f"https://www.discogs.com/release/{release_id}-{slug}",
        "artists": list(artists), "artists_sort": names,
        "labels": [{"name": label, "catno": f"TL{release_id % 1000:03d}", "entity_type": "1", "id": 77}],
        "formats": [{"name": fmt, "qty": "1", "descriptions": list(descriptions)}],
        "genres": ["Electronic"], "styles": ["Techno"],
        "tracklist": list(tracklist), "extraartists": list(extraartists),
        "data_quality": "Needs Vote", "master_id": 0,
    }


def sample_releases() -> list[dict[str, Any]]:
    """Releases with every tracklist shape the kind must read (the tests state what each gives)."""
    return [
        # A 12" with side headings, a remix credited only in extraartists, a missing duration
        release(1001, "The Bells EP", [credit("Jeff Mills")], [
            heading("Side A"),
            track("A1", "The Bells", "7:32"),
            track("A2", "Phase 4", ""),
            heading("Side B"),
            track("B1", "The Bells", "6:05", extraartists=[credit("Joey Beltram", role="Remix")]),
            track("B2", "Untitled", "3:01", extraartists=[credit("Someone", role="Mastered By")]),
        ]),
        # A 7" with A / AA sides, two artists joined by '&' (one credited by anv) on the release, a
        # 'feat.' credit with a disambiguation suffix on the AA side
        release(2002, "Rain", [credit("Kerri Chandler", join="&"), credit("Jerome Sydenham", anv="J. Sydenham")], [
            track("A", "Rain", "5:10"),
            track("AA", "Rain (Dub)", "4:48",
                  artists=[credit("Kerri Chandler", join="feat."), credit("Arnold Jarvis (2)")]),
        ], descriptions=('7"', "45 RPM")),
        # A compilation: release artist Various, track artists, an index track with sub-tracks,
        # release-level remix credits naming positions, numbered positions
        release(3003, "Detroit Beat Down Vol. 2", [credit("Various", artist_id=194)], [
            track("1", "Day Of Life", "6:12", artists=[credit("Octave One (2)")]),
            index("Grand Suite", [
                track("2a", "Movement I", "3:10"),
                track("2b", "Movement II", ""),
            ], artists=[credit("Mike Banks", anv="Mad Mike", join=",")]),
            track("3", "Jaguar", "1:02:03", artists=[credit("The Aztec Mystic")]),
            track("4", "Knights Of The Jaguar", "8:00", artists=[credit("DJ Rolando")]),
        ], extraartists=[credit("Carl Craig", role="Remix", tracks="3 to 4"),
                         credit("Francois K.", role="Remix [Additional]", tracks="2a")],
           fmt="CD", descriptions=("Compilation",)),
    ]


def filler(release_id: int) -> dict[str, Any]:
    """A one-track release, for collections that need many pages."""
    return release(release_id, f"Tool {release_id}", [credit(f"Producer {release_id % 7}")],
                   [track("A", f"Tool {release_id}", "5:00")])


# ---------------------------------------------------------------- the server


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float  # the fake's clock when it arrived
    user_agent: str
    authorization: str


@dataclass
class _User:
    name: str
    private: bool
    folders: dict[int, str] = field(default_factory=lambda: {1: "Uncategorized"})
    instances: list[tuple[int, int, int]] = field(default_factory=list)  # (instance_id, folder_id, release_id)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FakeDiscogs(LoopbackServer):
    """The server. `url` is what the manifest's discogs.api_url takes; the token's owner is `owner`."""

    def __init__(self, *, token: str = TOKEN, owner: str = "crate_digger", limit: int = 60,
                 anonymous_limit: int = 25, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.owner = token, owner
        self.limit, self.anonymous_limit, self.window = limit, anonymous_limit, window
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._releases: dict[int, dict[str, Any]] = {}
        self._gone: dict[int, dict[str, Any]] = {}  # deleted releases, still in collections
        self._hits: dict[str, deque[float]] = {}  # per identity: arrival times inside the window
        self._faults: deque[int] = deque()
        self._next_folder = 4_180_000
        self._next_instance = 900_000_000
        self.requests: list[LoggedRequest] = []
        self.add_user(owner)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    # ---- test controls -------------------------------------------------------------------
    def add_user(self, name: str, *, private: bool = False) -> None:
        with self._lock:
            self._users[name] = _User(name, private)

    def add_folder(self, user: str, name: str) -> int:
        with self._lock:
            self._next_folder += 17
            self._users[user].folders[self._next_folder] = name
            return self._next_folder

    def add_release(self, data: Mapping[str, Any]) -> int:
        with self._lock:
            self._releases[int(data["id"])] = dict(data)
            return int(data["id"])

    def remove_release(self, release_id: int) -> None:
        """The release is deleted from Discogs (copies in collections stay listed)."""
        with self._lock:
            self._gone[release_id] = self._releases.pop(release_id)

    def folder_id(self, user: str, name: str) -> int:
        with self._lock:
            return next(fid for fid, fname in self._users[user].folders.items() if fname == name)

    def collect(self, user: str, release_id: int, folder_id: int = 1) -> None:
        """Put a copy of a release (already added) into a folder of the user's collection."""
        with self._lock:
            assert release_id in self._releases and folder_id in self._users[user].folders
            self._next_instance += 1
            self._users[user].instances.append((self._next_instance, folder_id, release_id))

    def burn(self, n: int, token: str | None = None) -> None:
        """Use up n requests of the minute, as another app with the same token would."""
        with self._lock:
            hits = self._hits.setdefault(token or self.token, deque())
            hits.extend([self.clock()] * n)

    def fail_next(self, status: int, n: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * n)

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith(prefix)]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---- request entry point (handler thread) --------------------------------------------
    def handle(self, method: str, raw_path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        auth = headers.get("Authorization") or ""
        agent = headers.get("User-Agent") or ""
        with self._lock:
            now = self.clock()
            identity, limit = self._identity(auth, query)
            hits = self._hits.setdefault(identity, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            try:
                if not agent.strip():
                    raise ApiError(403, "Please provide a User-Agent naming your application.")
                if len(hits) >= limit:
                    raise ApiError(429, TOO_QUICK)
                hits.append(now)
                if self._faults:
                    status = self._faults.popleft()
                    raise ApiError(status, "An internal server error occurred." if status >= 500 else "Fault.")
                if identity != self.token and identity != "anonymous":
                    raise ApiError(401, NO_AUTH)
                viewer = self.owner if identity == self.token else None
                status, body = 200, self._route(method, parts.path, query, viewer)
            except ApiError as exc:
                status, body = exc.status, {"message": exc.message}
            used = len(hits)
            self.requests.append(LoggedRequest(method, parts.path, query, status, now, agent, auth))
            out = {
                "Content-Type": "application/json",
                "X-Discogs-Ratelimit": str(limit),
                "X-Discogs-Ratelimit-Used": str(used),
                "X-Discogs-Ratelimit-Remaining": str(max(0, limit - used)),
            }
            return status, out, json.dumps(body).encode()

    def _identity(self, auth: str, query: Mapping[str, str]) -> tuple[str, int]:
        """(who counts against the limit, their limit): a token (right or wrong) or anonymous."""
        given = None
        if auth.startswith("Discogs token="):
            given = auth.removeprefix("Discogs token=").strip()
        elif auth:
            given = auth  # some other scheme: not a token Discogs knows
        elif "token" in query:
            given = query["token"]
        if given is None:
            return "anonymous", self.anonymous_limit
        return given, self.limit

    def _route(self, method: str, path: str, query: Mapping[str, str], viewer: str | None) -> Any:
        if method != "GET":
            raise ApiError(405, "Method not allowed.")
        segments = [unquote(s) for s in path.strip("/").split("/")]
        match segments:
            case ["oauth", "identity"]:
                if viewer is None:
                    raise ApiError(401, NO_AUTH)
                return {"id": 1, "username": viewer, "resource_url": f"{PUBLIC}/users/{viewer}",
                        "consumer_name": "Personal token"}
            case ["users", user, "collection", "folders"]:
                return {"folders": self._visible_folders(user, viewer)}
            case ["users", user, "collection", "folders", folder]:
                for found in self._visible_folders(user, viewer):
                    if str(found["id"]) == folder:
                        return found
                raise ApiError(404, "Folder not found.")
            case ["users", user, "collection", "folders", folder, "releases"]:
                return self._folder_releases(user, folder, query, viewer, path)
            case ["releases", release_id] if release_id.isdigit() and int(release_id) in self._releases:
                return self._releases[int(release_id)]
            case ["releases", _]:
                raise ApiError(404, "Release not found.")
        raise ApiError(404, "The requested resource was not found.")

    def _user(self, name: str, viewer: str | None) -> _User:
        user = self._users.get(name)
        if user is None:
            raise ApiError(404, NO_USER)
        if user.private and viewer != name:
            raise ApiError(403, NO_PERMISSION)
        return user

    def _visible_folders(self, name: str, viewer: str | None) -> list[dict[str, Any]]:
        user = self._user(name, viewer)
        base = f"{PUBLIC}/users/{quote(name)}/collection/folders"
        folders = [{"id": 0, "name": "All", "count": len(user.instances), "resource_url": f"{base}/0"}]
        if viewer == name:
            folders += [{"id": fid, "name": fname, "count": sum(1 for i in user.instances if i[1] == fid),
                         "resource_url": f"{base}/{fid}"} for fid, fname in sorted(user.folders.items())]
        return folders

    def _folder_releases(self, name: str, folder: str, query: Mapping[str, str], viewer: str | None,
                         path: str) -> Any:
        user = self._user(name, viewer)
        if not folder.isdigit() or (int(folder) != 0 and int(folder) not in user.folders):
            raise ApiError(404, "Folder not found.")
        folder_id = int(folder)
        if folder_id != 0 and viewer != name:
            raise ApiError(403, NO_PERMISSION)
        instances = [i for i in user.instances if folder_id in (0, i[1])]
        if query.get("sort", "added") == "added":  # instance ids grow with the date added
            instances.sort(key=lambda i: i[0], reverse=query.get("sort_order", "desc") == "desc")
        per_page = min(100, max(1, int(query.get("per_page", "50"))))
        page = max(1, int(query.get("page", "1")))
        pages = max(1, math.ceil(len(instances) / per_page))
        if page > pages:
            raise ApiError(404, f"Page {page} is out of range.")
        chunk = instances[(page - 1) * per_page: page * per_page]

        def link(p: int) -> str:
            return f"{self.url}{path}?{urlencode({'page': p, 'per_page': per_page})}"

        urls: dict[str, str] = {}
        if page > 1:
            urls.update(first=link(1), prev=link(page - 1))
        if page < pages:
            urls.update(next=link(page + 1), last=link(pages))
        return {
            "pagination": {"page": page, "pages": pages, "per_page": per_page, "items": len(instances), "urls": urls},
            "releases": [self._item(instance) for instance in chunk],
        }

    def _item(self, instance: tuple[int, int, int]) -> dict[str, Any]:
        instance_id, folder_id, release_id = instance
        r = self._releases.get(release_id) or self._gone[release_id]
        return {
            "id": release_id, "instance_id": instance_id, "folder_id": folder_id, "rating": 0,
            "date_added": time.strftime("%Y-%m-%dT%H:%M:%S-07:00", time.gmtime(1_600_000_000 + instance_id % 10**6)),
            "basic_information": {
                "id": release_id, "master_id": r.get("master_id", 0), "title": r["title"], "year": r["year"],
                "resource_url": r["resource_url"], "thumb": "", "cover_image": "",
                "formats": r["formats"], "labels": r["labels"], "artists": r["artists"],
                "genres": r["genres"], "styles": r["styles"],
            },
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDiscogs
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between them

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fake's own request log is the record

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, payload = self.fake.handle(self.command, self.path, self.headers)
        reply(self, status, headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve
