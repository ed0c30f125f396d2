"""Eagle's local HTTP API (eagle.cool) as the Eagle sink speaks it: no sync rules, only the
conversation.

Owns the client (built by `cratefile.net.make_client`), the envelope check, the answer
shapes of V1 and V2 (lists, pages `{data|items, total}`, `{item}`, ids as strings, objects or
lists), the errors, and one wrapper per endpoint used: application and library info,
folder list and create, item info, list, addFromPath, update and moveToTrash. The
idempotent import rules built on it live in `cratefile.sinks.eagle.client`.

Eagle not running (connection refused) raises `EagleUnavailable` with one line; any other
failure raises `EagleError` naming the endpoint and Eagle's message. An error can come
with HTTP 200: the envelope's `status` is always checked.

Doubtful spots, handled defensively: `item/list` offsets may count items or pages (probed
once per client); a server that ignores a filter makes the client scan the library once and
search that index (kept up to date by this client's own updates, imports and trashing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from cratefile.errors import CratefileError
from cratefile.net import make_client, retrying

DEFAULT_API_URL = "http://localhost:41595"

Item = dict[str, Any]


class EagleError(CratefileError):
    """Eagle answered with an error (or nonsense). Names the endpoint and Eagle's message."""


class EagleUnavailable(EagleError):
    """Eagle is not running or not answering: skip the Eagle step, retry it next run."""


# -- answer shapes ---------------------------------------------------------------------------


def rows_of(data: Any) -> tuple[list[Item], int | None]:
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


def ids_of(data: Any) -> list[str]:
    """Item ids in an addFromPath answer: "ID", {"id": "ID"}, ["ID"], [{"id"}], {"ids": [...]}."""
    if isinstance(data, str):
        return [data] if data else []
    if isinstance(data, list):
        return [i for entry in data for i in ids_of(entry)]
    if isinstance(data, dict):
        for key in ("id", "itemId"):
            if isinstance(data.get(key), str) and data[key]:
                return [data[key]]
        for key in ("ids", "itemIds", "items", "data", "item"):
            if key in data:
                return ids_of(data[key])
    return []


def tags_of(item: Mapping[str, Any]) -> list[str]:
    return [t for t in item.get("tags") or [] if isinstance(t, str)]


def folders_of(item: Mapping[str, Any]) -> list[str]:
    out = []
    for f in item.get("folders") or []:
        if isinstance(f, str):
            out.append(f)
        elif isinstance(f, dict) and isinstance(f.get("id"), str):
            out.append(f["id"])
    return out


def website_of(item: Mapping[str, Any]) -> str:
    return str(item.get("url") or item.get("website") or "")


def ext_of(item: Mapping[str, Any]) -> str:
    return str(item.get("ext") or "").lower().lstrip(".")


def ext_matches(item: Mapping[str, Any], ext: str | None) -> bool:
    # An answer without `ext` must not hide the item: that would import a duplicate.
    return ext is None or not ext_of(item) or ext_of(item) == ext


# -- the API ---------------------------------------------------------------------------------


READ_ATTEMPTS = 3


def _transient_read(exc: BaseException) -> bool:
    """A read worth sending again: a 5xx or a connection dropped mid-answer, never a refusal."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError)


def _never(exc: BaseException) -> bool:
    return False


class EagleAPI:
    """Eagle's local API, one method per endpoint. Not locked: `EagleClient` serializes."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        page_size: int = 200,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        # No rate limit, and no retry of a refused connection: Eagle is a local app, and that
        # means "not running", which retrying cannot fix. A read (GET) that hits a 5xx or a
        # dropped connection is retried a little through the one retry path (net.retrying);
        # writes are not (Eagle never deduplicates imports). make_client always sets a
        # transport, so proxies from the environment never capture localhost.
        self._http = make_client(self.api_url + "/api/", timeout=timeout, transport=transport)
        self._index: dict[str, Item] | None = None  # whole library, when filters are ignored
        self._offset_counts_pages: bool | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
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
        def send() -> httpx.Response:
            answer = self._http.request(method, endpoint, params=params, json=body)
            if method == "GET" and answer.status_code >= 500:
                answer.raise_for_status()
            return answer

        try:
            response = retrying(send, is_transient=_transient_read if method == "GET" else _never,
                                attempts=READ_ATTEMPTS, base_delay=0.2, max_delay=2.0)
        except httpx.HTTPStatusError as exc:
            raise EagleError(f"Eagle {endpoint}: HTTP {exc.response.status_code} after {READ_ATTEMPTS} tries") from exc
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
            rows, total = rows_of(data)
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
        return library / "images" / f"{item['id']}.info" / f"{item['name']}.{ext_of(item)}"

    # -- folders -------------------------------------------------------------------------

    def folder_paths(self) -> dict[tuple[str, ...], str]:
        """Every folder's id by its path of names (V1 nests `children`, V2 links `parent`).
        With twin names, the first one in listing order is used."""
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

        paths: dict[tuple[str, ...], str] = {}
        for fid in names:  # listing order: with twin names, the first one is used
            paths.setdefault(path_of(fid), fid)
        return paths

    def create_folder(self, name: str, parent: str | None) -> str | None:
        """folder/create; the new folder's id, or None when the answer carries none."""
        body: dict[str, Any] = {"folderName": name}
        if parent is not None:
            body["parent"] = parent
        rows, _ = rows_of(self._call("POST", "folder/create", body=body))
        fid = rows[0].get("id") if rows else None
        return fid if isinstance(fid, str) else None

    # -- items ---------------------------------------------------------------------------

    def item_info(self, item_id: str) -> Item | None:
        """The item, or None when Eagle does not know the id."""
        try:
            data = self._call("GET", "item/info", params={"id": item_id})
        except EagleUnavailable:
            raise
        except EagleError:
            return None  # Eagle answers an unknown id with an error envelope
        rows, _ = rows_of(data)
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

    def _remember(self, item: Item) -> None:
        """Put an item this client just made into the library index, when there is one."""
        if self._index is not None:
            self._index[item["id"]] = item

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
        ids = ids_of(self._call("POST", "item/addFromPath", body=body))
        return ids[0] if ids else None

    def update_item(self, item_id: str, **fields: Any) -> Item | None:
        """item/update: `tags` replaces the whole list. Returns the item when Eagle sends it."""
        rows, _ = rows_of(self._call("POST", "item/update", body={"id": item_id, **fields}))
        updated = rows[0] if rows else None
        if self._index is not None and item_id in self._index:
            self._index[item_id] = updated or {**self._index[item_id], **fields}
        return updated

    def move_to_trash(self, item_ids: list[str]) -> None:
        self._call("POST", "item/moveToTrash", body={"itemIds": item_ids})
        if self._index is not None:
            for item_id in item_ids:
                if item_id in self._index:
                    self._index[item_id] = {**self._index[item_id], "isDeleted": True}
