"""Eagle (eagle.cool) sink: import built files into an Eagle library through its local API.

Owns the conversation with Eagle's HTTP API (V1 endpoints under `/api/...`; answers in the
V1 or the V2 shapes are both understood) and the rules that make importing idempotent.
The build calls `EagleClient.ensure_folder` and `EagleClient.sync_file`.

Identity. Every imported file carries an identity tag `cratefile:<key stem>.<ext>`
(`cratefile:soundcloud-123456.wav`: one item per track and format) and its source URL as
the website. Before importing, `find_item` looks for the recorded item id (still there,
not in the trash), then the identity tag, then the website URL (same extension): reruns, a
lost cache or another machine find the item instead of importing a second one. Eagle never
deduplicates imports itself.

What cratefile owns on an item. The last line of the annotation is a marker
`cratefile: {"key", "fp", "tags", "ann"}`: the file's fingerprint, the tags cratefile set,
and a digest of the annotation text cratefile wrote. `item/update` replaces the whole tag
list, so an update sends the user's own tags (everything not in the marker's list) plus
the current ones of cratefile: renamed playlists, a new BPM or key replace only ours. The
annotation text is refreshed only while it is still the one cratefile wrote; a text the
user edited is kept. Folders are only ever added, never removed.

Content changes (a recipe rebuilt the file). POLICY: re-import and trash. When the
fingerprint in the marker differs from the file's, the file is imported as a new item
with the old item's folders, the user's tags and the annotation text, then the old item
is moved to Eagle's trash (recoverable there). The V1 API cannot replace an item's file in
place. If a run dies between the two steps, the next run finds the new item by its
identity tag and fingerprint and trashes the old one, so no duplicate survives. The
fingerprint is the caller's (`fingerprint=`, e.g. a digest of the recipe and source, the
same on every machine) or, by default, the size plus a hash of the file's first, middle
and last MiB.

Eagle not running (connection refused) raises `EagleUnavailable` with one line; any other
failure raises `EagleError` naming the endpoint and Eagle's message. An error can come
with HTTP 200: the envelope's `status` is always checked.

Doubtful spots, handled defensively: `addFromPath` answers the new id as a string, `{id}`,
a list, or not at all (then the item is looked up by its identity tag, waiting up to
`settle_timeout` for Eagle to finish importing); `item/list` offsets may count items or
pages (probed once per client); a server that ignores a filter makes the client scan the
library once and search that index; V1's `item/update` documents no `folders` field
(addFromPath takes one folder; further folders are sent through `item/update` and a
warning is logged when Eagle ignores them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from cratefile.errors import CratefileError
from cratefile.net import make_client
from cratefile.records import stem_of

log = logging.getLogger(__name__)

DEFAULT_API_URL = "http://localhost:41595"
MARKER_PREFIX = "cratefile: "
IDENTITY_PREFIX = "cratefile:"

Item = dict[str, Any]


class EagleError(CratefileError):
    """Eagle answered with an error (or nonsense). Names the endpoint and Eagle's message."""


class EagleUnavailable(EagleError):
    """Eagle is not running or not answering: skip the Eagle step, retry it next run."""


def identity_tag(key: str, ext: str) -> str:
    """The tag that identifies cratefile's item for a track key and format."""
    return f"{IDENTITY_PREFIX}{stem_of(key)}.{ext.lower().lstrip('.')}"


def file_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    """Size plus a hash of the first, middle and last `chunk` bytes: cheap on big WAVs and
    different whenever a rebuild changes the audio or the tags."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=12)
    with open(path, "rb") as fh:
        for start in sorted({0, max(0, size // 2 - chunk // 2), max(0, size - chunk)}):
            fh.seek(start)
            digest.update(fh.read(chunk))
    return f"{size}-{digest.hexdigest()}"


# -- answer shapes ---------------------------------------------------------------------------


def _rows(data: Any) -> tuple[list[Item], int | None]:
    """Objects in an answer: a V1 list, a V2 page `{data|items: [...], total}`, one object
    or `{item: {...}}`. Also the V2 `total` when there is one."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)], None
    if isinstance(data, dict):
        if "id" in data:
            return [data], None
        for key in ("data", "items"):
            if isinstance(data.get(key), list):
                total = data.get("total")
                rows = [r for r in data[key] if isinstance(r, dict)]
                return rows, total if isinstance(total, int) else None
        for key in ("item", "folder"):
            if isinstance(data.get(key), dict):
                return [data[key]], None
    return [], None


def _ids(data: Any) -> list[str]:
    """Item ids in an addFromPath answer: "ID", {"id": "ID"}, ["ID"], [{"id"}], {"ids": [...]}."""
    if isinstance(data, str):
        return [data] if data else []
    if isinstance(data, list):
        return [i for entry in data for i in _ids(entry)]
    if isinstance(data, dict):
        for key in ("id", "itemId"):
            if isinstance(data.get(key), str) and data[key]:
                return [data[key]]
        for key in ("ids", "itemIds", "items", "data", "item"):
            if key in data:
                return _ids(data[key])
    return []


def _tags(item: Mapping[str, Any]) -> list[str]:
    return [t for t in item.get("tags") or [] if isinstance(t, str)]


def _folders(item: Mapping[str, Any]) -> list[str]:
    out = []
    for f in item.get("folders") or []:
        if isinstance(f, str):
            out.append(f)
        elif isinstance(f, dict) and isinstance(f.get("id"), str):
            out.append(f["id"])
    return out


def _website(item: Mapping[str, Any]) -> str:
    return str(item.get("url") or item.get("website") or "")


def _ext(item: Mapping[str, Any]) -> str:
    return str(item.get("ext") or "").lower().lstrip(".")


def _ext_matches(item: Mapping[str, Any], ext: str | None) -> bool:
    # An answer without `ext` must not hide the item: that would import a duplicate.
    return ext is None or not _ext(item) or _ext(item) == ext


def _dedup(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# -- the annotation marker -------------------------------------------------------------------


def _split_annotation(annotation: str | None) -> tuple[str, dict[str, Any] | None]:
    """(text above the marker, marker) of an item's annotation."""
    lines = (annotation or "").splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(MARKER_PREFIX):
            try:
                marker = json.loads(lines[i][len(MARKER_PREFIX) :])
            except json.JSONDecodeError:
                break
            if isinstance(marker, dict):
                return "\n".join(lines[:i]).rstrip(), marker
            break
    return (annotation or "").rstrip(), None


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _compose_annotation(text: str, marker: dict[str, Any]) -> str:
    line = MARKER_PREFIX + json.dumps(marker, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return f"{text}\n\n{line}" if text else line


# -- the client ------------------------------------------------------------------------------


class EagleClient:
    """Eagle's local API. One client may be shared by threads: imports are serialized."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        settle_timeout: float = 5.0,
        page_size: int = 200,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.settle_timeout = settle_timeout
        self.page_size = page_size
        # No retries and no rate limit: Eagle is a local app, and a refused connection means
        # "not running", which retrying cannot fix. make_client always sets a transport, so
        # proxies from the environment never capture localhost.
        self._http = make_client(self.api_url + "/api/", timeout=timeout, transport=transport)
        self._lock = threading.RLock()
        self._folder_ids: dict[tuple[str, ...], str] | None = None
        self._index: dict[str, Item] | None = None  # whole library, when filters are ignored
        self._offset_counts_pages: bool | None = None
        self._warned_folders = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EagleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport and envelope ----------------------------------------------------------

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            response = self._http.request(method, endpoint, params=params, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise EagleUnavailable(
                f"Eagle is not running at {self.api_url}: start the app; "
                "the Eagle step will be retried next run"
            ) from exc
        except httpx.TimeoutException as exc:
            raise EagleUnavailable(
                f"Eagle at {self.api_url} did not answer {endpoint} within {self.timeout:g}s; "
                "the Eagle step will be retried next run"
            ) from exc
        except httpx.HTTPError as exc:
            raise EagleError(f"Eagle {endpoint}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise EagleError(
                f"Eagle {endpoint}: HTTP {response.status_code}, not an API answer: {response.text[:200]!r}"
            )
        if payload.get("status") != "success":
            message = payload.get("message") or payload.get("data") or f"HTTP {response.status_code}"
            raise EagleError(f"Eagle {endpoint} failed: {message}")
        if response.is_error:
            raise EagleError(f"Eagle {endpoint}: HTTP {response.status_code}")
        return payload.get("data")

    def _paged(self, endpoint: str, params: Mapping[str, Any]) -> Iterator[Item]:
        """Every object of a list endpoint, page by page, each id once."""
        seen: set[str] = set()
        previous: list[Item] = []
        pages = 0
        while True:
            if pages == 0:
                offset = 0
            elif self._offset_counts_pages is None:
                offset = 1  # probe: items mode answers from the 2nd item, pages mode page 2
            elif self._offset_counts_pages:
                offset = pages
            else:
                offset = len(seen)
            data = self._call("GET", endpoint, params={**params, "limit": self.page_size, "offset": offset})
            rows, total = _rows(data)
            if pages == 1 and self._offset_counts_pages is None and rows:
                first = rows[0].get("id")
                if len(previous) > 1 and first == previous[1].get("id"):
                    self._offset_counts_pages = False
                elif first not in seen:
                    self._offset_counts_pages = True
                # else the server ignores offsets: nothing new comes and the loop ends
            fresh = [r for r in rows if isinstance(r.get("id"), str) and r["id"] not in seen]
            for row in fresh:
                seen.add(row["id"])
                yield row
            pages += 1
            previous = rows
            if not fresh:
                return
            if total is not None:
                if len(seen) >= total:
                    return
            elif len(rows) < self.page_size:
                return

    # -- application and library ---------------------------------------------------------

    def application_info(self) -> dict[str, Any]:
        data = self._call("GET", "application/info")
        return data if isinstance(data, dict) else {}

    def library_path(self) -> Path | None:
        data = self._call("GET", "library/info")
        library = data.get("library") if isinstance(data, dict) else None
        path = library.get("path") if isinstance(library, dict) else None
        return Path(path) if isinstance(path, str) and path else None

    def item_file(self, item: Mapping[str, Any], library: Path) -> Path:
        """Where Eagle keeps an item's file: `<library>/images/<id>.info/<name>.<ext>`."""
        return library / "images" / f"{item['id']}.info" / f"{item['name']}.{_ext(item)}"

    # -- folders -------------------------------------------------------------------------

    def _folder_index(self) -> dict[tuple[str, ...], str]:
        if self._folder_ids is not None:
            return self._folder_ids
        names: dict[str, str] = {}
        parents: dict[str, str | None] = {}

        def walk(rows: list[Item], parent: str | None) -> None:
            for row in rows:
                fid, name = row.get("id"), row.get("name")
                if not isinstance(fid, str) or not isinstance(name, str):
                    continue
                names[fid] = name
                linked = row.get("parent") or row.get("parentId")  # V2: flat, linked by id
                parents[fid] = parent if parent is not None else (linked if isinstance(linked, str) else None)
                children = row.get("children")
                if isinstance(children, list):
                    walk([c for c in children if isinstance(c, dict)], fid)

        walk(list(self._paged("folder/list", {})), None)

        def path_of(fid: str) -> tuple[str, ...]:
            path: list[str] = []
            current: str | None = fid
            while current is not None and current in names and len(path) <= len(names):
                path.append(names[current])
                current = parents.get(current)
            return tuple(reversed(path))

        cache: dict[tuple[str, ...], str] = {}
        for fid in names:  # listing order: with twin names, the first one is used
            cache.setdefault(path_of(fid), fid)
        self._folder_ids = cache
        return cache

    def ensure_folder(self, path: str) -> str:
        """Id of the folder at `path` ("Playlists/Deep House"), creating missing levels."""
        parts = tuple(p.strip() for p in path.split("/") if p.strip())
        if not parts:
            raise ValueError(f"empty Eagle folder path {path!r}")
        with self._lock:
            folders = self._folder_index()
            parent: str | None = None
            for depth in range(1, len(parts) + 1):
                prefix = parts[:depth]
                fid = folders.get(prefix)
                if fid is None:
                    body: dict[str, Any] = {"folderName": prefix[-1]}
                    if parent is not None:
                        body["parent"] = parent
                    rows, _ = _rows(self._call("POST", "folder/create", body=body))
                    fid = rows[0].get("id") if rows else None
                    if not isinstance(fid, str):
                        where = "/".join(prefix)
                        raise EagleError(f"Eagle folder/create answered without a folder id for {where!r}")
                    folders[prefix] = fid
                parent = fid
            assert parent is not None
            return parent

    # -- items ---------------------------------------------------------------------------

    def item_info(self, item_id: str) -> Item | None:
        """The item, or None when Eagle does not know the id."""
        try:
            data = self._call("GET", "item/info", params={"id": item_id})
        except EagleUnavailable:
            raise
        except EagleError:
            return None  # Eagle answers an unknown id with an error envelope
        rows, _ = _rows(data)
        return next((r for r in rows if r.get("id") == item_id), None)

    def _build_index(self) -> dict[str, Item]:
        self._index = {item["id"]: item for item in self._paged("item/list", {})}
        return self._index

    def _search(
        self, filters: Mapping[str, str], match: Callable[[Item], bool], *, fresh: bool = False
    ) -> list[Item]:
        """Items matching `match`, asking Eagle to filter. A server that ignores the filter
        (an answer that does not match) gets one full scan, then searches run on that index."""
        if self._index is not None and not fresh:
            return [i for i in self._index.values() if match(i)]
        found = []
        for item in self._paged("item/list", filters):
            if not match(item):
                return [i for i in self._build_index().values() if match(i)]
            found.append(item)
        return found

    def find_item(
        self,
        *,
        item_id: str | None = None,
        url: str | None = None,
        tag: str | None = None,
        ext: str | None = None,
    ) -> Item | None:
        """The live item for a file: recorded id first, then the identity tag, then the
        website URL. Items in the trash, or with another extension when `ext` is given,
        do not count. The tag is asked before the URL: it is exact and every Eagle
        version filters by it."""
        wanted_ext = ext.lower().lstrip(".") if ext else None

        def usable(item: Item) -> bool:
            return not item.get("isDeleted") and _ext_matches(item, wanted_ext)

        if item_id:
            item = self.item_info(item_id)
            if item is not None and usable(item):
                return item
        if tag:
            hits = [i for i in self._search({"tags": tag}, lambda i: tag in _tags(i)) if usable(i)]
            if hits:
                return self._pick(hits, tag)
        if url:
            filters = {"url": url, **({"ext": wanted_ext} if wanted_ext else {})}
            hits = [i for i in self._search(filters, lambda i: _website(i) == url) if usable(i)]
            if hits:
                return self._pick(hits, tag)
        return None

    @staticmethod
    def _pick(hits: list[Item], tag: str | None) -> Item:
        if len(hits) > 1:
            log.warning("Eagle holds %d items for %s; using the oldest", len(hits), tag or _website(hits[0]))
        return min(hits, key=lambda i: (tag not in _tags(i), i.get("modificationTime") or 0, i["id"]))

    def add_from_path(
        self,
        file: Path,
        *,
        name: str,
        website: str | None,
        tags: list[str],
        annotation: str | None,
        folder_id: str | None,
    ) -> str | None:
        """Import one file; the new id, or None when this Eagle version does not say."""
        body: dict[str, Any] = {"path": str(file.resolve()), "name": name, "tags": tags}
        if website:
            body["website"] = website
        if annotation:
            body["annotation"] = annotation
        if folder_id:
            body["folderId"] = folder_id
        ids = _ids(self._call("POST", "item/addFromPath", body=body))
        return ids[0] if ids else None

    def update_item(self, item_id: str, **fields: Any) -> Item | None:
        """item/update: `tags` replaces the whole list. Returns the item when Eagle sends it."""
        rows, _ = _rows(self._call("POST", "item/update", body={"id": item_id, **fields}))
        updated = rows[0] if rows else None
        if self._index is not None and item_id in self._index:
            self._index[item_id] = updated or {**self._index[item_id], **fields}
        if updated is not None and "folders" in fields and set(_folders(updated)) != set(fields["folders"]):
            if not self._warned_folders:
                log.warning(
                    "Eagle at %s does not file existing items into more folders through its API; "
                    "item %s stays in %s",
                    self.api_url,
                    item_id,
                    _folders(updated),
                )
                self._warned_folders = True
        return updated

    def move_to_trash(self, item_ids: list[str]) -> None:
        self._call("POST", "item/moveToTrash", body={"itemIds": item_ids})
        if self._index is not None:
            for item_id in item_ids:
                if item_id in self._index:
                    self._index[item_id] = {**self._index[item_id], "isDeleted": True}

    def _await_item(self, tag: str, ext: str) -> Item | None:
        """The item just imported, found by its identity tag (Eagle imports asynchronously)."""
        deadline = time.monotonic() + self.settle_timeout
        delay = 0.05
        while True:
            hits = [
                i
                for i in self._search({"tags": tag}, lambda i: tag in _tags(i), fresh=True)
                if not i.get("isDeleted") and _ext_matches(i, ext)
            ]
            if hits:
                return max(hits, key=lambda i: (i.get("modificationTime") or 0, i["id"]))
            if time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _import(
        self,
        file: Path,
        *,
        name: str,
        url: str | None,
        tags: list[str],
        annotation: str,
        folder_ids: list[str],
        ident: str,
    ) -> str:
        ext = file.suffix.lstrip(".").lower()
        new_id = self.add_from_path(
            file,
            name=name,
            website=url,
            tags=tags,
            annotation=annotation,
            folder_id=folder_ids[0] if folder_ids else None,
        )
        if new_id is None:
            found = self._await_item(ident, ext)
            if found is None:
                raise EagleError(
                    f"Eagle item/addFromPath took {file.name} but no item tagged {ident} appeared "
                    f"within {self.settle_timeout:g}s; the next run looks for it again"
                )
            new_id = str(found["id"])
        if self._index is not None:
            self._index[new_id] = {
                "id": new_id,
                "name": name,
                "ext": ext,
                "url": url or "",
                "tags": tags,
                "folders": folder_ids[:1],
                "annotation": annotation,
                "isDeleted": False,
            }
        if len(folder_ids) > 1:  # addFromPath files an item into one folder only
            self.update_item(new_id, folders=folder_ids)
        return new_id

    def sync_file(
        self,
        file: Path,
        *,
        key: str,
        name: str,
        url: str | None,
        tags: list[str],
        annotation: str | None,
        folder_ids: list[str],
        known_item_id: str | None,
        fingerprint: str | None = None,
    ) -> str:
        """Make Eagle hold `file` once, in `folder_ids`, with `tags`; return the item id.

        Idempotent: imports only when no item for this key and format exists; otherwise adds
        missing folders and refreshes tags, annotation and website. A changed file is
        re-imported and the old item trashed (see the module docstring)."""
        ext = file.suffix.lstrip(".").lower()
        ident = identity_tag(key, ext)
        fp = fingerprint or file_fingerprint(file)
        ours = _dedup([*tags, ident])
        folders = _dedup(folder_ids)
        with self._lock:
            item = self.find_item(item_id=known_item_id, url=url, tag=ident, ext=ext)
            if item is None:
                text = (annotation or "").rstrip()
                marker = {"key": key, "fp": fp, "tags": ours, "ann": _text_digest(text)}
                return self._import(
                    file,
                    name=name,
                    url=url,
                    tags=ours,
                    annotation=_compose_annotation(text, marker),
                    folder_ids=folders,
                    ident=ident,
                )
            _, old_marker = _split_annotation(item.get("annotation"))
            if old_marker is None or old_marker.get("fp") in (None, fp):
                self._refresh(
                    item, key=key, url=url, ours=ours, annotation=annotation, folders=folders, fp=fp
                )
                return str(item["id"])
            replacement = self._replacement(item, ident, ext, fp)
            if replacement is None:
                return self._reimport(
                    file,
                    item,
                    key=key,
                    name=name,
                    url=url,
                    ours=ours,
                    annotation=annotation,
                    folders=folders,
                    fp=fp,
                    ident=ident,
                )
            # A previous run imported the new file but died before trashing the old item:
            # finish that run's work instead of importing a third copy.
            self.move_to_trash([item["id"]])
            self._refresh(
                replacement,
                key=key,
                url=url,
                ours=ours,
                annotation=annotation,
                folders=[*_folders(item), *folders],
                fp=fp,
                keep_tags=self._user_tags(item, ours),
            )
            return str(replacement["id"])

    def _replacement(self, stale: Item, ident: str, ext: str, fp: str) -> Item | None:
        """Another live item for the same file whose marker already has the new fingerprint."""
        hits = self._search({"tags": ident}, lambda i: ident in _tags(i), fresh=True)
        for hit in hits:
            if hit["id"] != stale["id"] and not hit.get("isDeleted") and _ext_matches(hit, ext):
                _, marker = _split_annotation(hit.get("annotation"))
                if marker is not None and marker.get("fp") == fp:
                    return hit
        return None

    @staticmethod
    def _user_tags(item: Item, ours: list[str]) -> list[str]:
        """Tags on `item` that cratefile did not set (per its marker) and does not set now."""
        _, marker = _split_annotation(item.get("annotation"))
        previous = marker.get("tags") if marker is not None else None
        mine = set(previous if isinstance(previous, list) else []) | set(ours)
        return [t for t in _tags(item) if t not in mine]

    @staticmethod
    def _annotation_text(item: Item, annotation: str | None) -> tuple[str, bool]:
        """(text to keep above the marker, whether it is cratefile's own text)."""
        text, marker = _split_annotation(item.get("annotation"))
        ours = (annotation or "").rstrip()
        if not text:
            return ours, True
        if marker is not None and marker.get("ann") == _text_digest(text):
            return ours, True  # still the text cratefile wrote: refresh it
        return text, False  # the user's text: keep it

    def _marker_annotation(
        self, item: Item, key: str, fp: str, ours: list[str], annotation: str | None
    ) -> str:
        text, own = self._annotation_text(item, annotation)
        marker = {"key": key, "fp": fp, "tags": ours, "ann": _text_digest(text) if own else ""}
        return _compose_annotation(text, marker)

    def _reimport(
        self,
        file: Path,
        old: Item,
        *,
        key: str,
        name: str,
        url: str | None,
        ours: list[str],
        annotation: str | None,
        folders: list[str],
        fp: str,
        ident: str,
    ) -> str:
        new_id = self._import(
            file,
            name=name,
            url=url or _website(old) or None,
            tags=_dedup([*self._user_tags(old, ours), *ours]),
            annotation=self._marker_annotation(old, key, fp, ours, annotation),
            folder_ids=_dedup([*_folders(old), *folders]),
            ident=ident,
        )
        self.move_to_trash([old["id"]])
        log.info("Eagle: %s changed: imported as %s, old item %s trashed", file.name, new_id, old["id"])
        return new_id

    def _refresh(
        self,
        item: Item,
        *,
        key: str,
        url: str | None,
        ours: list[str],
        annotation: str | None,
        folders: list[str],
        fp: str,
        keep_tags: list[str] | None = None,
    ) -> None:
        """Bring an existing item's tags, folders, annotation and website up to date.
        `keep_tags`: further user tags to keep (from an item this one replaces)."""
        changes: dict[str, Any] = {}
        tags = _dedup([*self._user_tags(item, ours), *(keep_tags or []), *ours])
        if set(tags) != set(_tags(item)):
            changes["tags"] = tags
        current_folders = _folders(item)
        if not set(folders) <= set(current_folders):
            changes["folders"] = _dedup([*current_folders, *folders])
        wanted = self._marker_annotation(item, key, fp, ours, annotation)
        if (item.get("annotation") or "") != wanted:
            changes["annotation"] = wanted
        if url and _website(item) != url:
            changes["url"] = url
        if changes:
            self.update_item(str(item["id"]), **changes)
