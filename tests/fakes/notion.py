"""A fake Notion API (version 2025-09-03, data sources) on 127.0.0.1, for the real notion-client.

Stateful: one database holding one data source, its schema and its pages. It answers the
endpoints cratefile's mirror uses — databases retrieve; data_sources retrieve / update / query
(filters, sorts, cursor pagination); pages create / retrieve / update (in_trash) — with
Notion's error envelope and its limits (2000 UTF-16 units per rich-text object, 100 items per
array, URLs <= 2000 chars, page_size <= 100). Requests need `Authorization: Bearer <token>` and
a `Notion-Version` header. It can enforce a requests-per-second budget (429 + integer
Retry-After), replay a queue of injected faults (409, 500, 502 with an HTML body, 503, 504,
529 with Retry-After, slow answers, writes that take effect and then time out or fail), and
hide newly created pages from queries for a while (eventual consistency). Every request is
logged for assertions.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from fakes.server import LoopbackServer, reply

VERSIONS = frozenset({"2025-09-03"})
MAX_TEXT = 2000  # UTF-16 code units per rich-text object, as JavaScript counts
MAX_ITEMS = 100
MAX_URL = 2000

# The "Music Tracks" database REFERENCE.md describes (name -> type).
MUSIC_TRACKS: dict[str, str] = {
    "Title": "title",
    "Artist Name": "rich_text",
    "Downloaded": "checkbox",
    "Tempo": "number",
    "Key": "rich_text",
    "Audio Duration (seconds)": "number",
    "WAV/AIFF/M4A File Path": "rich_text",
    "Eagle File ID": "rich_text",
    "Audio Processing Status": "multi_select",
    "SoundCloud URL": "url",
    "Playlists": "multi_select",
    "Processing Lock": "rich_text",
}


class ApiError(Exception):
    """Answered with Notion's error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


@dataclass
class Fault:
    """One injected misbehaviour, consumed by the first request it matches.

    status None = answer normally (after `delay`). `apply` = process the request for real
    first (a create really creates), then delay and answer with the fault: the classic
    "timed out / got a 5xx, but the page exists" case.
    """

    status: int | None = 500
    code: str = "internal_server_error"
    message: str = "Unexpected error occurred."
    html: bool = False  # a non-JSON body, as Notion's load balancer sends with 502
    retry_after: int | None = None
    delay: float = 0.0
    apply: bool = False
    method: str | None = None  # only requests with this method ...
    path: str | None = None  # ... and a path starting with this (e.g. "/v1/pages")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )

    @classmethod
    def conflict(cls, **kw: Any) -> Fault:
        return cls(409, "conflict_error", "Conflict occurred while saving. Please try again.", **kw)

    @classmethod
    def server_error(cls, **kw: Any) -> Fault:
        return cls(500, "internal_server_error", "Unexpected error occurred.", **kw)

    @classmethod
    def bad_gateway(cls, **kw: Any) -> Fault:
        return cls(502, "bad_gateway", "<html><body><h1>502 Bad Gateway</h1></body></html>", html=True, **kw)

    @classmethod
    def unavailable(cls, **kw: Any) -> Fault:
        return cls(503, "service_unavailable", "Notion is unavailable, please try again later.", **kw)

    @classmethod
    def gateway_timeout(cls, **kw: Any) -> Fault:
        return cls(504, "gateway_timeout", "Notion timed out while processing the request.", **kw)

    @classmethod
    def overloaded(cls, retry_after: int = 1, **kw: Any) -> Fault:
        return cls(529, "service_overload", "Notion is overloaded.", retry_after=retry_after, **kw)

    @classmethod
    def rate_limited(cls, retry_after: int = 1, **kw: Any) -> Fault:
        return cls(429, "rate_limited", "You have been rate limited.", retry_after=retry_after, **kw)

    @classmethod
    def slow(cls, delay: float, **kw: Any) -> Fault:
        """Wait, then process and answer: the client may have given up, the effect happens."""
        return cls(None, delay=delay, **kw)

    @classmethod
    def timeout_after_apply(cls, delay: float, **kw: Any) -> Fault:
        """Process at once (the page exists), answer only after `delay`."""
        return cls(None, delay=delay, apply=True, **kw)


@dataclass
class LoggedRequest:
    method: str
    path: str
    body: Any
    status: int
    at: float  # time.monotonic() when it arrived
    user_agent: str = ""
    fault: str = ""  # which injected fault answered it, if any

    @property
    def is_write(self) -> bool:
        return self.method == "PATCH" or (self.method == "POST" and not self.path.endswith("/query"))


def _now_iso(rounded_to_minute: bool) -> str:
    now = datetime.now(UTC)
    if rounded_to_minute:  # Notion's created_time has minute precision
        now = now.replace(second=0, microsecond=0)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _plain(items: list[dict[str, Any]]) -> str:
    return "".join(i.get("plain_text", "") for i in items)


def _utf16_len(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def _canon(object_id: str) -> str:
    return object_id.replace("-", "").lower()


@dataclass
class _Page:
    id: str
    created_time: str
    created_at: float  # monotonic, for the eventual-consistency window and stable ordering
    seq: int
    last_edited_time: str
    props: dict[str, Any]  # property name -> value in response shape
    in_trash: bool = False


@dataclass
class _Options:
    by_name: dict[str, dict[str, str]] = field(default_factory=dict)


_COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")


class FakeNotion(LoopbackServer):
    """The server. Use as a context manager; `url` is what `NotionConfig.api_url` takes."""

    def __init__(
        self,
        *,
        token: str = "secret_fake_token_0123456789",
        properties: Mapping[str, str] | None = None,
        rate_per_s: float | None = None,
        burst: int = 3,
        title: str = "Music Tracks",
        status_options: Iterable[str] = ("Not started", "In progress", "Done"),
    ) -> None:
        self.token = token
        self.title = title
        self.database_id = str(uuid.uuid4())
        self.data_source_id = str(uuid.uuid4())
        self.hide_new_pages_for = 0.0
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._chaos: tuple[float, Callable[[], Fault], random.Random] | None = None
        self._pages: dict[str, _Page] = {}
        self._seq = 0
        self._schema: dict[str, dict[str, Any]] = {}
        self._status_options = list(status_options)
        for name, typ in (properties if properties is not None else MUSIC_TRACKS).items():
            self._add_property(name, typ, {})
        self.set_rate_limit(rate_per_s, burst)

    # ---- lifecycle -------------------------------------------------------------------------
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    # ---- test controls ---------------------------------------------------------------------
    def config(self, properties: Iterable[tuple[str, str]] = (), *, token: str | None = None) -> Any:
        """A `cratefile.sinks.notion.config.NotionConfig` pointing at this fake."""
        from cratefile.sinks.notion.config import NotionConfig

        return NotionConfig(database=self.database_id, token_env="CRATEFILE_TEST_NOTION_TOKEN",
                            token=self.token if token is None else token, api_url=self.url,
                            properties=tuple(properties))

    def set_rate_limit(self, rate_per_s: float | None, burst: int = 3) -> None:
        with self._lock:
            self.rate_per_s = rate_per_s
            self.burst = burst
            self._tokens = float(burst)
            self._refilled = time.monotonic()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def chaos(self, probability: float, make_fault: Callable[[], Fault] | None, seed: int = 0) -> None:
        """Also answer each request with a fresh `make_fault()` with this probability (when
        the fault matches the request); None switches it off. Queued faults come first."""
        with self._lock:
            self._chaos = None if make_fault is None else (probability, make_fault, random.Random(seed))

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def seed_page(self, values: Mapping[str, Any], *, created_time: str | None = None) -> str:
        """Add a page directly (no request): simple Python values by property type."""
        with self._lock:
            props = {name: self._simple_to_value(name, v) for name, v in values.items()}
            page = self._new_page(props)
            if created_time is not None:
                page.created_time = created_time
            return page.id

    def set_values(self, page_id: str, values: Mapping[str, Any]) -> None:
        """Change a page directly (no request), as another machine or a person would."""
        with self._lock:
            page = self._find_page(page_id)
            page.props.update({name: self._simple_to_value(name, v) for name, v in values.items()})
            page.last_edited_time = _now_iso(False)

    def live_pages(self) -> list[dict[str, Any]]:
        """Every page not in the trash, hidden or not, as the API would render it."""
        with self._lock:
            return [self._render(p) for p in self._ordered() if not p.in_trash]

    def page(self, page_id: str) -> dict[str, Any]:
        with self._lock:
            return self._render(self._find_page(page_id))

    def value(self, page_id: str, prop: str) -> Any:
        """A property's value in simple form: str for text/url/select, list for multi_select."""
        with self._lock:
            return self._simple(self._find_page(page_id).props[prop], self._schema[prop]["type"])

    def schema_types(self) -> dict[str, str]:
        with self._lock:
            return {n: p["type"] for n, p in self._schema.items()}

    def writes(self) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.is_write]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---- request entry point (called by the handler thread) --------------------------------
    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes, Fault | None]:
        path = urlsplit(raw_path).path
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        with self._lock:
            entry = LoggedRequest(method, path, body, 0, time.monotonic(), headers.get("User-Agent", ""))
            self.requests.append(entry)
            fault: Fault | None = None
            try:
                self._check_headers(headers)
                self._take_token()
                if body is None:
                    raise ApiError(400, "invalid_json", "Error parsing JSON body.")
                fault = next((f for f in self._faults if f.matches(method, path)), None)
                if fault is not None:
                    self._faults.remove(fault)
                elif self._chaos is not None and self._chaos[2].random() < self._chaos[0]:
                    fault = self._chaos[1]()
                    fault = fault if fault.matches(method, path) else None
                result: Any = None
                if fault is None or fault.apply:
                    result = self._route(method, path, body)
                status, hdrs, payload = 200, {}, result
            except ApiError as err:
                status, hdrs, payload = err.status, err.headers, self._envelope(err)
                fault = None  # a real error (auth, 429, validation) answers; the fault is spent
            entry.status = status if fault is None or fault.status is None else fault.status
            entry.fault = "" if fault is None else f"{fault.status}:{fault.code}:{fault.delay}"
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is None and not fault.apply:
                with self._lock:  # a slow request is processed after its delay
                    try:
                        status, hdrs, payload = 200, {}, self._route(method, path, body)
                    except ApiError as err:
                        status, hdrs, payload = err.status, err.headers, self._envelope(err)
                    entry.status = status
            elif fault.status is not None:
                return self._fault_response(fault) + (fault,)
        return status, {"Content-Type": "application/json", **hdrs}, json.dumps(payload).encode(), fault

    def _fault_response(self, fault: Fault) -> tuple[int, dict[str, str], bytes]:
        assert fault.status is not None
        hdrs = {"Content-Type": "text/html" if fault.html else "application/json"}
        if fault.retry_after is not None:
            hdrs["Retry-After"] = str(fault.retry_after)
        if fault.html:
            return fault.status, hdrs, fault.message.encode()
        err = ApiError(fault.status, fault.code, fault.message)
        return fault.status, hdrs, json.dumps(self._envelope(err)).encode()

    @staticmethod
    def _envelope(err: ApiError) -> dict[str, Any]:
        return {"object": "error", "status": err.status, "code": err.code, "message": err.message,
                "request_id": str(uuid.uuid4())}

    def _check_headers(self, headers: Mapping[str, str]) -> None:
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "unauthorized", "API token is invalid.")
        version = headers.get("Notion-Version")
        if version is None:
            raise ApiError(400, "missing_version",
                           "Notion-Version header failed validation: "
                           "Notion-Version header should be defined, instead was `undefined`.")
        if version not in VERSIONS:
            raise ApiError(400, "validation_error",
                           f"This fake speaks Notion-Version {sorted(VERSIONS)}, got `{version}`.")

    def _take_token(self) -> None:
        if self.rate_per_s is None:
            return
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate_per_s)
        self._refilled = now
        if self._tokens < 1.0:
            wait = (1.0 - self._tokens) / self.rate_per_s
            raise ApiError(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.",
                           {"Retry-After": str(max(1, math.ceil(wait)))})
        self._tokens -= 1.0

    # ---- routing ---------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "v1":
            raise ApiError(400, "invalid_request_url", "Invalid request URL.")
        what, rest = parts[1], parts[2:]
        if what == "databases" and len(rest) == 1 and method == "GET":
            return self._get_database(rest[0])
        if what == "data_sources" and len(rest) == 1 and method == "GET":
            self._check_data_source(rest[0])
            return self._render_data_source()
        if what == "data_sources" and len(rest) == 1 and method == "PATCH":
            self._check_data_source(rest[0])
            return self._update_data_source(body)
        if what == "data_sources" and len(rest) == 2 and rest[1] == "query" and method == "POST":
            self._check_data_source(rest[0])
            return self._query(body)
        if what == "pages" and not rest and method == "POST":
            return self._create_page(body)
        if what == "pages" and len(rest) == 1 and method == "GET":
            return self._render(self._find_page(rest[0]))
        if what == "pages" and len(rest) == 1 and method == "PATCH":
            return self._update_page(rest[0], body)
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")

    def _get_database(self, database_id: str) -> dict[str, Any]:
        if _canon(database_id) != _canon(self.database_id):
            raise ApiError(404, "object_not_found",
                           f"Could not find database with ID: {database_id}. "
                           "Make sure the relevant pages and databases are shared with your integration.")
        return {"object": "database", "id": self.database_id, "title": [self._text(self.title)],
                "data_sources": [{"id": self.data_source_id, "name": self.title}],
                "parent": {"type": "workspace", "workspace": True}, "in_trash": False, "is_inline": False}

    def _check_data_source(self, ds_id: str) -> None:
        if _canon(ds_id) != _canon(self.data_source_id):
            raise ApiError(404, "object_not_found", f"Could not find data_source with ID: {ds_id}.")

    def _render_data_source(self) -> dict[str, Any]:
        return {"object": "data_source", "id": self.data_source_id, "title": [self._text(self.title)],
                "parent": {"type": "database_id", "database_id": self.database_id},
                "properties": json.loads(json.dumps(self._schema))}

    # ---- schema ----------------------------------------------------------------------------
    def _add_property(self, name: str, typ: str, config: dict[str, Any]) -> None:
        if typ == "title" and any(p["type"] == "title" for p in self._schema.values()):
            raise _validation("A data source can only have one title property.")
        if typ not in ("title", "rich_text", "url", "checkbox", "number", "select", "multi_select", "status"):
            raise _validation(f"body failed validation: unsupported property type `{typ}` in this fake.")
        conf: dict[str, Any] = {}
        if typ in ("select", "multi_select"):
            conf = {"options": [self._option(o["name"], i) for i, o in enumerate(config.get("options", []))]}
        elif typ == "status":
            conf = {"options": [self._option(n, i) for i, n in enumerate(self._status_options)], "groups": []}
        elif typ == "number":
            conf = {"format": config.get("format", "number")}
        pid = "title" if typ == "title" else uuid.uuid4().hex[:4]
        self._schema[name] = {"id": pid, "name": name, "type": typ, typ: conf}
        for page in self._pages.values():
            page.props.setdefault(name, self._empty(typ))

    @staticmethod
    def _option(name: str, i: int) -> dict[str, str]:
        return {"id": uuid.uuid4().hex[:4], "name": name, "color": _COLORS[i % len(_COLORS)]}

    def _update_data_source(self, body: dict[str, Any]) -> dict[str, Any]:
        for name, spec in (body.get("properties") or {}).items():
            current = self._prop(name, missing_ok=True)
            if spec is None:
                if current is not None and current["type"] != "title":
                    del self._schema[current["name"]]
                continue
            if not isinstance(spec, dict):
                raise _validation(f"body failed validation: body.properties.{name} should be an object or `null`.")
            if current is not None and set(spec) == {"name"}:
                self._schema[spec["name"]] = self._schema.pop(current["name"])
                self._schema[spec["name"]]["name"] = spec["name"]
                for page in self._pages.values():
                    page.props[spec["name"]] = page.props.pop(current["name"])
                continue
            types = [k for k in spec if k not in ("name", "description")]
            if len(types) != 1:
                raise _validation("body failed validation: "
                                  f"body.properties.{name} should name exactly one property type.")
            typ = types[0]
            if current is not None:
                if current["type"] == typ:
                    continue
                raise _validation(f"Changing the type of {name} is not supported by this fake.")
            self._add_property(spec.get("name", name), typ, spec[typ] or {})
        return self._render_data_source()

    def _prop(self, name_or_id: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        if name_or_id in self._schema:
            return self._schema[name_or_id]
        for p in self._schema.values():
            if p["id"] == name_or_id:
                return p
        if missing_ok:
            return None
        raise _validation(f"{name_or_id} is not a property that exists.")

    # ---- pages -----------------------------------------------------------------------------
    def _ordered(self) -> list[_Page]:
        return sorted(self._pages.values(), key=lambda p: p.seq)

    def _find_page(self, page_id: str) -> _Page:
        for p in self._pages.values():
            if _canon(p.id) == _canon(page_id):
                return p
        raise ApiError(404, "object_not_found",
                       f"Could not find page with ID: {page_id}. "
                       "Make sure the relevant pages and databases are shared with your integration.")

    def _new_page(self, props: dict[str, Any]) -> _Page:
        self._seq += 1
        stamp = _now_iso(rounded_to_minute=True)
        page = _Page(str(uuid.uuid4()), stamp, time.monotonic(), self._seq, _now_iso(False), {})
        for name, prop in self._schema.items():
            page.props[name] = props.get(name, self._empty(prop["type"]))
        self._pages[page.id] = page
        return page

    def _create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        parent = body.get("parent") or {}
        if "data_source_id" in parent:
            self._check_data_source(parent["data_source_id"])
        elif "database_id" in parent:
            self._get_database(parent["database_id"])
        else:
            raise _validation("body failed validation: "
                              "body.parent.data_source_id should be defined, instead was `undefined`.")
        props = self._validate_props(body.get("properties") or {})
        return self._render(self._new_page(props))

    def _update_page(self, page_id: str, body: dict[str, Any]) -> dict[str, Any]:
        page = self._find_page(page_id)
        trash = body.get("in_trash", body.get("archived"))
        if trash is not None and not isinstance(trash, bool):
            raise _validation("body failed validation: body.in_trash should be a boolean.")
        if page.in_trash and trash is not False and body.get("properties"):
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        props = self._validate_props(body.get("properties") or {})
        page.props.update(props)
        if trash is not None:
            page.in_trash = trash
        page.last_edited_time = _now_iso(False)
        return self._render(page)

    def _render(self, page: _Page) -> dict[str, Any]:
        props = {}
        for name, prop in self._schema.items():
            value = json.loads(json.dumps(page.props.get(name, self._empty(prop["type"]))))
            props[name] = {"id": prop["id"], "type": prop["type"], prop["type"]: value}
        return {"object": "page", "id": page.id, "created_time": page.created_time,
                "last_edited_time": page.last_edited_time, "in_trash": page.in_trash, "archived": page.in_trash,
                "parent": {"type": "data_source_id", "data_source_id": self.data_source_id,
                           "database_id": self.database_id},
                "properties": props, "url": f"https://www.notion.so/{_canon(page.id)}"}

    # ---- property values -------------------------------------------------------------------
    @staticmethod
    def _empty(typ: str) -> Any:
        return {"title": [], "rich_text": [], "multi_select": [], "checkbox": False}.get(typ)

    @staticmethod
    def _text(content: str, link: str | None = None) -> dict[str, Any]:
        return {"type": "text", "text": {"content": content, "link": {"url": link} if link else None},
                "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                                "code": False, "color": "default"},
                "plain_text": content, "href": link}

    def _validate_props(self, props: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(props, Mapping):
            raise _validation("body failed validation: body.properties should be an object.")
        out: dict[str, Any] = {}
        for key, value in props.items():
            prop = self._prop(key)
            assert prop is not None
            name, typ = prop["name"], prop["type"]
            where = f"body.properties.{name}"
            if not isinstance(value, dict) or typ not in value:
                given = (next((k for k in (value or {}) if k not in ("type", "id")), None)
                         if isinstance(value, dict) else None)
                raise _validation(f"body failed validation: {where}.{typ} should be defined, instead was `undefined`."
                                  + (f" {name} is expected to be {typ}, not {given}." if given else ""))
            out[name] = self._validate_value(where, name, typ, value[typ])
        return out

    def _validate_value(self, where: str, name: str, typ: str, v: Any) -> Any:
        if typ in ("title", "rich_text"):
            if not isinstance(v, list):
                raise _validation("body failed validation: "
                                  f"{where}.{typ} should be an array, instead was `{json.dumps(v)}`.")
            if len(v) > MAX_ITEMS:
                raise _validation("body failed validation: "
                                  f"{where}.{typ}.length should be ≤ `{MAX_ITEMS}`, instead was `{len(v)}`.")
            items = []
            for i, item in enumerate(v):
                text = item.get("text") if isinstance(item, dict) else None
                content = text.get("content") if isinstance(text, dict) else None
                if not isinstance(content, str):
                    raise _validation(f"body failed validation: {where}.{typ}[{i}].text.content should be a string.")
                if _utf16_len(content) > MAX_TEXT:
                    raise _validation("body failed validation: "
                                      f"{where}.{typ}[{i}].text.content.length should be ≤ `{MAX_TEXT}`, "
                                      f"instead was `{_utf16_len(content)}`.")
                link = (text.get("link") or {}).get("url")
                items.append(self._text(content, link))
            return items
        if typ == "url":
            if v is not None and not isinstance(v, str):
                raise _validation("body failed validation: "
                                  f"{where}.url should be a string or `null`, instead was `{json.dumps(v)}`.")
            if isinstance(v, str) and len(v) > MAX_URL:
                raise _validation("body failed validation: "
                                  f"{where}.url.length should be ≤ `{MAX_URL}`, instead was `{len(v)}`.")
            return v or None
        if typ == "checkbox":
            if not isinstance(v, bool):
                raise _validation("body failed validation: "
                                  f"{where}.checkbox should be a boolean, instead was `{json.dumps(v)}`.")
            return v
        if typ == "number":
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise _validation("body failed validation: "
                                  f"{where}.number should be a number or `null`, instead was `{json.dumps(v)}`.")
            return v
        if typ in ("select", "status"):
            if v is None:
                return None
            return self._option_value(where, name, typ, v)
        if typ == "multi_select":
            if not isinstance(v, list):
                raise _validation(f"body failed validation: {where}.multi_select should be an array.")
            if len(v) > MAX_ITEMS:
                raise _validation("body failed validation: "
                                  f"{where}.multi_select.length should be ≤ `{MAX_ITEMS}`, instead was `{len(v)}`.")
            return [self._option_value(where, name, typ, o) for o in v]
        raise _validation(f"{name}: type {typ} cannot be written by this fake.")

    def _option_value(self, where: str, name: str, typ: str, v: Any) -> dict[str, str]:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            raise _validation("body failed validation: "
                              f"{where}.{typ}.name should be a string, instead was `{json.dumps(v)}`.")
        label = v["name"]
        if "," in label:
            raise _validation(f"Invalid select option, commas not allowed: {label}")
        if len(label) > 100:
            raise _validation("body failed validation: "
                              f"{where}.{typ}.name.length should be ≤ `100`, instead was `{len(label)}`.")
        options = self._schema[name][typ]["options"]
        for o in options:
            if o["name"] == label:
                return dict(o)
        if typ == "status":
            raise _validation(f"Invalid status option. Status option \"{label}\" does not exist for {name}.")
        new = self._option(label, len(options))
        options.append(new)
        return dict(new)

    def _simple_to_value(self, name: str, v: Any) -> Any:
        typ = self._schema[name]["type"]
        wrapped: Any
        if typ in ("title", "rich_text"):
            wrapped = [{"text": {"content": v}}] if v else []
        elif typ in ("select", "status"):
            wrapped = {"name": v} if v else None
        elif typ == "multi_select":
            wrapped = [{"name": x} for x in v]
        else:
            wrapped = v
        return self._validate_value(f"seed.{name}", name, typ, wrapped)

    @staticmethod
    def _simple(value: Any, typ: str) -> Any:
        if typ in ("title", "rich_text"):
            return _plain(value)
        if typ in ("select", "status"):
            return value["name"] if value else None
        if typ == "multi_select":
            return [o["name"] for o in value]
        return value

    # ---- query -----------------------------------------------------------------------------
    def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        size = body.get("page_size", 100)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
            raise _validation(f"body failed validation: body.page_size should be ≤ `100`, instead was `{size}`.")
        now = time.monotonic()
        pages = [p for p in self._pages.values() if not p.in_trash and now - p.created_at >= self.hide_new_pages_for]
        flt = body.get("filter")
        if flt:
            pages = [p for p in pages if self._match(flt, p)]
        pages = self._sort(pages, body.get("sorts") or [])
        start = 0
        cursor = body.get("start_cursor")
        if cursor is not None:
            ids = [p.id for p in pages]
            if cursor not in ids:
                raise _validation("body failed validation: body.start_cursor should be a valid cursor.")
            start = ids.index(cursor)
        chunk = pages[start:start + size]
        more = start + size < len(pages)
        return {"object": "list", "results": [self._render(p) for p in chunk],
                "next_cursor": pages[start + size].id if more else None, "has_more": more,
                "type": "page_or_data_source", "page_or_data_source": {}}

    def _sort(self, pages: list[_Page], sorts: list[dict[str, Any]]) -> list[_Page]:
        # Default order: newest first, as Notion does without sorts.
        out = sorted(pages, key=lambda p: (p.created_time, p.seq), reverse=True)
        for s in reversed(sorts):
            desc = s.get("direction", "ascending") == "descending"
            if "timestamp" in s:
                field_ = s["timestamp"]
                if field_ not in ("created_time", "last_edited_time"):
                    raise _validation(f"body failed validation: sorts timestamp `{field_}` is not supported.")
                out.sort(key=lambda p: getattr(p, field_), reverse=desc)
                continue
            prop = self._prop(s.get("property", ""))
            assert prop is not None
            typ = prop["type"]
            vals = {p.id: self._simple(p.props[prop["name"]], typ) for p in out}
            present = [p for p in out if vals[p.id] not in (None, "", [])]
            absent = [p for p in out if vals[p.id] in (None, "", [])]
            present.sort(key=lambda p: (str(vals[p.id]) if not isinstance(vals[p.id], (int, float)) else vals[p.id]),
                         reverse=desc)
            out = present + absent  # empty values last either way
        return out

    def _match(self, flt: dict[str, Any], page: _Page) -> bool:
        if "and" in flt:
            return all(self._match(f, page) for f in flt["and"])
        if "or" in flt:
            return any(self._match(f, page) for f in flt["or"])
        if "timestamp" in flt:
            field_ = flt["timestamp"]
            cond = flt.get(field_) or {}
            value = getattr(page, field_)
            (op, arg), = cond.items()
            return {"before": value < arg, "after": value > arg, "on_or_before": value <= arg,
                    "on_or_after": value >= arg, "equals": value[:10] == str(arg)[:10]}[op]
        prop = self._prop(flt.get("property", ""))
        assert prop is not None
        typ = prop["type"]
        keys = [k for k in flt if k != "property"]
        if keys != [typ]:
            raise _validation("body failed validation: "
                              f"filter for {prop['name']} should use `{typ}`, instead was `{keys}`.")
        cond = flt[typ]
        if not isinstance(cond, dict) or len(cond) != 1:
            raise _validation(f"body failed validation: filter.{typ} should have exactly one condition.")
        (op, arg), = cond.items()
        value = self._simple(page.props[prop["name"]], typ)
        empty = value in (None, "", [])
        if op == "is_empty":
            return empty
        if op == "is_not_empty":
            return not empty
        if typ == "checkbox":
            return {"equals": value == arg, "does_not_equal": value != arg}[op]
        if typ in ("title", "rich_text", "url"):
            text = value or ""
            ops: dict[str, Callable[[], bool]] = {
                "equals": lambda: text == arg, "does_not_equal": lambda: text != arg,
                "contains": lambda: arg in text, "does_not_contain": lambda: arg not in text,
                "starts_with": lambda: text.startswith(arg), "ends_with": lambda: text.endswith(arg)}
        elif typ == "number":
            ops = {"equals": lambda: value == arg, "does_not_equal": lambda: value != arg,
                   "greater_than": lambda: value is not None and value > arg,
                   "less_than": lambda: value is not None and value < arg,
                   "greater_than_or_equal_to": lambda: value is not None and value >= arg,
                   "less_than_or_equal_to": lambda: value is not None and value <= arg}
        elif typ in ("select", "status"):
            ops = {"equals": lambda: value == arg, "does_not_equal": lambda: value != arg}
        else:  # multi_select
            ops = {"contains": lambda: arg in value, "does_not_contain": lambda: arg not in value}
        if op not in ops:
            raise _validation(f"body failed validation: `{op}` is not a {typ} filter condition.")
        return ops[op]()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeNotion
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fake's own request log is the record

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, payload, _fault = self.fake.handle(self.command, self.path, self.headers, raw)
        reply(self, status, headers, payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
