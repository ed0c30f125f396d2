"""A stateful fake of Eagle's local HTTP API on 127.0.0.1, for the Eagle sink's tests.

Serves the V1 endpoints cratefile uses (application/info, library/info, folder/create,
folder/list, item/addFromPath(s), item/info, item/list, item/update, item/moveToTrash) with
the `{"status": ..., "data"/"message": ...}` envelope. Knobs reproduce what real Eagle
versions do differently:

- `add_shape`: what `addFromPath` answers as `data`: "string" (the id), "object" (`{id}`),
  "list" (`[id]`) or "none" (no data at all, as older versions do).
- `v2_shapes`: lists come paginated as `{"data": [...], "total", "offset", "limit"}`,
  `item/info` as a one-item page, and `folder/list` flat with `parent` ids.
- `offset_mode`: "items" (offset counts items) or "pages" (offset is a page index).
- `fail(endpoint, message)`: the next call answers HTTP 200 with an error envelope.
- `hide_new_items_for`: a new item stays invisible to that many lookups (Eagle imports
  asynchronously).
- `honour_update_folders`: whether `item/update` applies a `folders` field.
- `ignore_filters`: `item/list` filters to ignore (V1 has no `url` filter).

Imported files are copied to `<library>/images/<id>.info/<name>.<ext>`. Every request is
logged in `requests` as `(method, endpoint, query, body)`.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.server import LoopbackServer


@dataclass
class Logged:
    method: str
    endpoint: str  # e.g. "item/list", without the /api/ prefix
    query: dict[str, str]
    body: Any


@dataclass
class FakeEagle(LoopbackServer):
    library: Path
    add_shape: str = "string"
    v2_shapes: bool = False
    offset_mode: str = "items"
    default_limit: int = 200
    hide_new_items_for: int = 0
    honour_update_folders: bool = True
    ignore_filters: frozenset[str] = frozenset()  # item/list filters to ignore, e.g. {"url"} like V1
    requests: list[Logged] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {id, name, parent}

    def __post_init__(self) -> None:
        self.library.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._failures: list[tuple[str, str, int]] = []
        self._hidden: dict[str, int] = {}

    # -- lifecycle ----------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep pytest output clean

        return Handler

    # -- test helpers -------------------------------------------------------------------

    def fail(self, endpoint: str, message: str, *, http_status: int = 200) -> None:
        """Answer the next call to `endpoint` with an error envelope."""
        with self._lock:
            self._failures.append((endpoint, message, http_status))

    def calls(self, endpoint: str) -> list[Logged]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def live_items(self) -> list[dict[str, Any]]:
        return [i for i in self.items.values() if not i["isDeleted"]]

    def folder_id(self, path: str) -> str | None:
        parent: str | None = None
        for name in path.split("/"):
            match = [f for f in self.folders.values() if f["name"] == name and f["parent"] == parent]
            if not match:
                return None
            parent = match[0]["id"]
        return parent

    def add_user_item(self, source: Path, *, duration: float | None = None, **fields: Any) -> dict[str, Any]:
        """An item the user imported by hand (or another machine did). `duration`: a field
        the item carries in seconds (cratefile reads one when present; whether real Eagle's
        V1 answers carry it for audio is not verified, so nothing else depends on it)."""
        with self._lock:
            item = self._add(
                {"path": str(source), "name": fields.pop("name", source.stem), **fields}, None
            )
            if duration is not None:
                item["duration"] = duration
            return item

    # -- request handling ---------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: Any = None
        length = int(req.headers.get("Content-Length") or 0)
        if length:
            raw = req.rfile.read(length)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
        endpoint = parts.path.removeprefix("/api/").removeprefix("v2/")
        with self._lock:
            self.requests.append(Logged(method, endpoint, query, body))
            status, payload = self._dispatch(method, endpoint, query, body)
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _dispatch(self, method: str, endpoint: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        for i, (name, message, http_status) in enumerate(self._failures):
            if name == endpoint:
                del self._failures[i]
                return http_status, {"status": "error", "message": message}
        routes = {
            ("GET", "application/info"): self._app_info,
            ("GET", "library/info"): self._library_info,
            ("POST", "folder/create"): self._folder_create,
            ("GET", "folder/list"): self._folder_list,
            ("POST", "item/addFromPath"): self._add_from_path,
            ("POST", "item/addFromPaths"): self._add_from_paths,
            ("GET", "item/info"): self._item_info,
            ("GET", "item/list"): self._item_list,
            ("POST", "item/update"): self._item_update,
            ("POST", "item/moveToTrash"): self._move_to_trash,
        }
        handler = routes.get((method, endpoint))
        if handler is None:
            return 404, {"status": "error", "message": f"no route {method} {endpoint}"}
        args = query if method == "GET" else (body if isinstance(body, dict) else {})
        try:
            data = handler(args)
        except _Fault as exc:
            return 200, {"status": "error", "message": str(exc.args[0])}
        if data is _NO_DATA:
            return 200, {"status": "success"}
        return 200, {"status": "success", "data": data}

    # -- endpoints ----------------------------------------------------------------------

    def _app_info(self, _: dict[str, Any]) -> Any:
        return {"version": "4.0.0", "buildVersion": "21", "platform": "darwin", "execPath": "/fake"}

    def _library_info(self, _: dict[str, Any]) -> Any:
        return {
            "library": {"path": str(self.library), "name": self.library.stem},
            "folders": self._folder_tree(None),
        }

    def _new_id(self) -> str:
        return f"K{next(self._ids):012d}"

    def _folder_create(self, args: dict[str, Any]) -> Any:
        name = args.get("folderName") or args.get("name")
        if not name:
            raise _Fault("folderName is required")
        parent = args.get("parent") or None
        if parent is not None and parent not in self.folders:
            raise _Fault(f"Parent folder {parent} does not exist")
        folder = {"id": self._new_id(), "name": name, "parent": parent}
        self.folders[folder["id"]] = folder
        return self._folder_view(folder)

    def _folder_view(self, folder: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": folder["id"],
            "name": folder["name"],
            "images": [],
            "tags": [],
            "modificationTime": 0,
            "children": self._folder_tree(folder["id"]),
        }

    def _folder_tree(self, parent: str | None) -> list[dict[str, Any]]:
        return [self._folder_view(f) for f in self.folders.values() if f["parent"] == parent]

    def _folder_list(self, args: dict[str, Any]) -> Any:
        if not self.v2_shapes:
            return self._folder_tree(None)
        flat = [{"id": f["id"], "name": f["name"], "parent": f["parent"]} for f in self.folders.values()]
        return self._page(flat, args)

    def _add(self, args: dict[str, Any], folder_id: str | None) -> dict[str, Any]:
        source = Path(args.get("path") or "")
        if not source.is_absolute() or not source.is_file():
            raise _Fault(f"File not found: {source}")
        name = args.get("name") or source.stem
        ext = source.suffix.lstrip(".").lower()
        item_id = self._new_id()
        dest = self.library / "images" / f"{item_id}.info" / f"{name}.{ext}"
        dest.parent.mkdir(parents=True)
        shutil.copyfile(source, dest)
        folders = [folder_id] if folder_id else list(args.get("folders") or [])
        for fid in folders:
            if fid not in self.folders:
                raise _Fault(f"Folder {fid} does not exist")
        item = {
            "id": item_id,
            "name": name,
            "ext": ext,
            "size": dest.stat().st_size,
            "url": args.get("website") or "",
            "tags": list(dict.fromkeys(args.get("tags") or [])),
            "folders": folders,
            "annotation": args.get("annotation") or "",
            "isDeleted": False,
            "modificationTime": int(time.time() * 1000) + next(self._ids),
        }
        self.items[item_id] = item
        if self.hide_new_items_for:
            self._hidden[item_id] = self.hide_new_items_for
        return item

    def _add_from_path(self, args: dict[str, Any]) -> Any:
        item = self._add(args, args.get("folderId") or None)
        return {
            "string": item["id"],
            "object": {"id": item["id"]},
            "list": [item["id"]],
            "none": _NO_DATA,
        }[self.add_shape]

    def _add_from_paths(self, args: dict[str, Any]) -> Any:
        items = [self._add(entry, args.get("folderId") or None) for entry in args.get("items") or []]
        return _NO_DATA if self.add_shape == "none" else [i["id"] for i in items]

    def _visible(self, item: dict[str, Any]) -> bool:
        left = self._hidden.get(item["id"], 0)
        if left:
            self._hidden[item["id"]] = left - 1
            return False
        return True

    def _item_info(self, args: dict[str, Any]) -> Any:
        item = self.items.get(args.get("id", ""))
        if item is None or not self._visible(item):
            raise _Fault("Item does not exist")
        view = dict(item)
        return self._page([view], {}) if self.v2_shapes else view

    def _item_list(self, args: dict[str, Any]) -> Any:
        args = {k: v for k, v in args.items() if k not in self.ignore_filters}
        found = [i for i in self.items.values() if not i["isDeleted"] and self._visible(i)]
        if args.get("tags"):
            wanted = [t.strip() for t in args["tags"].split(",") if t.strip()]
            found = [i for i in found if all(t in i["tags"] for t in wanted)]
        if args.get("folders"):
            wanted = [f.strip() for f in args["folders"].split(",")]
            found = [i for i in found if any(f in i["folders"] for f in wanted)]
        if args.get("ext"):
            found = [i for i in found if i["ext"] == args["ext"].lower()]
        if args.get("url"):
            found = [i for i in found if i["url"] == args["url"]]
        if args.get("keyword"):
            kw = args["keyword"].lower()
            found = [i for i in found if kw in i["name"].lower() or kw in i["annotation"].lower()]
        return self._page([dict(i) for i in found], args)

    def _page(self, rows: list[dict[str, Any]], args: dict[str, Any]) -> Any:
        limit = int(args.get("limit") or self.default_limit)
        offset = int(args.get("offset") or 0)
        start = offset * limit if self.offset_mode == "pages" else offset
        page = rows[start : start + limit]
        if self.v2_shapes:
            return {"data": page, "total": len(rows), "offset": offset, "limit": limit}
        return page

    def _item_update(self, args: dict[str, Any]) -> Any:
        item = self.items.get(args.get("id", ""))
        if item is None:
            raise _Fault("Item does not exist")
        for key in ("tags", "annotation", "url", "star"):
            if key in args:
                item[key] = args[key]
        if self.honour_update_folders and "folders" in args:
            item["folders"] = list(args["folders"])
        return dict(item)

    def _move_to_trash(self, args: dict[str, Any]) -> Any:
        for item_id in args.get("itemIds") or []:
            if item_id not in self.items:
                raise _Fault(f"Item {item_id} does not exist")
            self.items[item_id]["isDeleted"] = True
        return _NO_DATA


_NO_DATA = object()


class _Fault(Exception):
    """An error Eagle reports in its envelope (with HTTP 200, as Eagle does)."""


def iter_files(library: Path) -> Iterator[Path]:
    """Files Eagle holds in its library folder."""
    yield from sorted((library / "images").glob("*.info/*"))
