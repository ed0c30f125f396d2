"""Eagle (eagle.cool) sink: import built files into an Eagle library through its local API.

Owns the rules that make importing idempotent; the HTTP conversation (V1 endpoints under
`/api/...`, answers in the V1 or the V2 shapes, the errors) is `cratefile.sinks.eagle.api`.
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

Reuse. An item the user's library already held for the track before cratefile imported it
(found by `sinks.eagle.reuse`) is adopted: the marker says `"adopted": true`, and such an
item is only ever refreshed (tags, folders, annotation), never re-imported or trashed.

Eagle not running (connection refused) raises `EagleUnavailable` with one line; any other
failure raises `EagleError` naming the endpoint and Eagle's message (see `eagle_api`).

Doubtful spots, handled defensively: `addFromPath` answers the new id as a string, `{id}`,
a list, or not at all (then the item is looked up by its identity tag, waiting up to
`settle_timeout` for Eagle to finish importing); `item/list` offsets may count items or
pages and a server may ignore a filter (both handled in `eagle_api`); V1's `item/update`
documents no `folders` field (addFromPath takes one folder; further folders are sent
through `item/update` and a warning is logged when Eagle ignores them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from cratefile.records import stem_of
from cratefile.sinks.eagle.api import (
    DEFAULT_API_URL,
    EagleAPI,
    EagleError,
    EagleUnavailable,
    Item,
    ext_matches,
    folders_of,
    tags_of,
    website_of,
)

__all__ = [
    "DEFAULT_API_URL",
    "IDENTITY_PREFIX",
    "MARKER_PREFIX",
    "EagleClient",
    "EagleError",
    "EagleUnavailable",
    "Item",
    "file_fingerprint",
    "identity_tag",
]

log = logging.getLogger(__name__)

MARKER_PREFIX = "cratefile: "
IDENTITY_PREFIX = "cratefile:"


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


class EagleClient(EagleAPI):
    """Eagle's local API plus the sync rules. One client may be shared by threads: imports
    are serialized."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        settle_timeout: float = 5.0,
        page_size: int = 200,
    ) -> None:
        super().__init__(api_url, transport=transport, timeout=timeout, page_size=page_size)
        self.settle_timeout = settle_timeout
        self._lock = threading.RLock()
        self._folder_ids: dict[tuple[str, ...], str] | None = None
        self._warned_folders = False
        self._library: tuple[Path | None] | None = None

    # -- folders -------------------------------------------------------------------------

    def _folder_index(self) -> dict[tuple[str, ...], str]:
        if self._folder_ids is None:
            self._folder_ids = self.folder_paths()
        return self._folder_ids

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
                    fid = self.create_folder(prefix[-1], parent)
                    if fid is None:
                        where = "/".join(prefix)
                        raise EagleError(f"Eagle folder/create answered without a folder id for {where!r}")
                    folders[prefix] = fid
                parent = fid
            assert parent is not None
            return parent

    def library(self) -> Path | None:
        """The Eagle library's folder (library/info), asked once."""
        if self._library is None:
            self._library = (self.library_path(),)
        return self._library[0]

    # -- items ---------------------------------------------------------------------------

    def search_items(self, filters: dict[str, str], match: Any) -> list[Item]:
        """Items matching `match` among those Eagle's item/list gives for `filters` (a keyword
        matches more than `match` wants, so a mismatch is not taken for an ignored filter as
        in EagleAPI._search); the library index instead when this client already has one."""
        if self._index is not None:
            return [i for i in self._index.values() if match(i)]
        return [i for i in self._paged("item/list", filters) if match(i)]

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
            return not item.get("isDeleted") and ext_matches(item, wanted_ext)

        if item_id:
            item = self.item_info(item_id)
            if item is not None and usable(item):
                return item
        if tag:
            hits = [i for i in self._search({"tags": tag}, lambda i: tag in tags_of(i)) if usable(i)]
            if hits:
                return self._pick(hits, tag)
        if url:
            filters = {"url": url, **({"ext": wanted_ext} if wanted_ext else {})}
            hits = [i for i in self._search(filters, lambda i: website_of(i) == url) if usable(i)]
            if hits:
                return self._pick(hits, tag)
        return None

    @staticmethod
    def _pick(hits: list[Item], tag: str | None) -> Item:
        if len(hits) > 1:
            log.warning("Eagle holds %d items for %s; using the oldest", len(hits), tag or website_of(hits[0]))
        return min(hits, key=lambda i: (tag not in tags_of(i), i.get("modificationTime") or 0, i["id"]))

    def update_item(self, item_id: str, **fields: Any) -> Item | None:
        """item/update: `tags` replaces the whole list. Returns the item when Eagle sends it.
        Warns once when Eagle ignores `folders` (V1 documents no such field)."""
        updated = super().update_item(item_id, **fields)
        if updated is not None and "folders" in fields and set(folders_of(updated)) != set(fields["folders"]):
            if not self._warned_folders:
                log.warning(
                    "Eagle at %s does not file existing items into more folders through its API; "
                    "item %s stays in %s",
                    self.api_url,
                    item_id,
                    folders_of(updated),
                )
                self._warned_folders = True
        return updated

    def _await_item(self, tag: str, ext: str) -> Item | None:
        """The item just imported, found by its identity tag (Eagle imports asynchronously)."""
        deadline = time.monotonic() + self.settle_timeout
        delay = 0.05
        while True:
            hits = [
                i
                for i in self._search({"tags": tag}, lambda i: tag in tags_of(i), fresh=True)
                if not i.get("isDeleted") and ext_matches(i, ext)
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
        self._remember(
            {
                "id": new_id,
                "name": name,
                "ext": ext,
                "url": url or "",
                "tags": tags,
                "folders": folder_ids[:1],
                "annotation": annotation,
                "isDeleted": False,
            }
        )
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
        held: Any = None,
    ) -> str:
        """Make Eagle hold `file` once, in `folder_ids`, with `tags`; return the item id.

        Idempotent: imports only when no item for this key and format exists; otherwise adds
        missing folders and refreshes tags, annotation and website. A changed file is
        re-imported and the old item trashed (see the module docstring).

        `held`: called (no arguments) before importing, it may return an item the user's
        library already holds for this track (sinks.eagle.reuse): that item is *adopted*
        instead (our tags and identity tag added, the user's kept, filed into the folders;
        its file and website are the user's, never re-imported nor trashed)."""
        ext = file.suffix.lstrip(".").lower()
        ident = identity_tag(key, ext)
        fp = fingerprint or file_fingerprint(file)
        ours = _dedup([*tags, ident])
        folders = _dedup(folder_ids)
        with self._lock:
            item = self.find_item(item_id=known_item_id, url=url, tag=ident, ext=ext)
            if item is None and held is not None:
                adopted = held()
                if adopted is not None:
                    self._refresh(adopted, key=key, url=None, ours=ours, annotation=annotation, folders=folders,
                                  fp=fp, adopted=True)
                    return str(adopted["id"])
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
            if old_marker is not None and old_marker.get("adopted"):  # the user's own file: only refreshed
                self._refresh(item, key=key, url=None, ours=ours, annotation=annotation, folders=folders, fp=fp,
                              adopted=True)
                return str(item["id"])
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
                folders=[*folders_of(item), *folders],
                fp=fp,
                keep_tags=self._user_tags(item, ours),
            )
            return str(replacement["id"])

    def _replacement(self, stale: Item, ident: str, ext: str, fp: str) -> Item | None:
        """Another live item for the same file whose marker already has the new fingerprint."""
        hits = self._search({"tags": ident}, lambda i: ident in tags_of(i), fresh=True)
        for hit in hits:
            if hit["id"] != stale["id"] and not hit.get("isDeleted") and ext_matches(hit, ext):
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
        return [t for t in tags_of(item) if t not in mine]

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
        self, item: Item, key: str, fp: str, ours: list[str], annotation: str | None, adopted: bool = False
    ) -> str:
        text, own = self._annotation_text(item, annotation)
        marker: dict[str, Any] = {"key": key, "fp": fp, "tags": ours, "ann": _text_digest(text) if own else ""}
        if adopted:
            marker["adopted"] = True
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
            url=url or website_of(old) or None,
            tags=_dedup([*self._user_tags(old, ours), *ours]),
            annotation=self._marker_annotation(old, key, fp, ours, annotation),
            folder_ids=_dedup([*folders_of(old), *folders]),
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
        adopted: bool = False,
    ) -> None:
        """Bring an existing item's tags, folders, annotation and website up to date.
        `keep_tags`: further user tags to keep (from an item this one replaces); `adopted`:
        the user's item, reused (its marker says so)."""
        changes: dict[str, Any] = {}
        tags = _dedup([*self._user_tags(item, ours), *(keep_tags or []), *ours])
        if set(tags) != set(tags_of(item)):
            changes["tags"] = tags
        current_folders = folders_of(item)
        if not set(folders) <= set(current_folders):
            changes["folders"] = _dedup([*current_folders, *folders])
        wanted = self._marker_annotation(item, key, fp, ours, annotation, adopted)
        if (item.get("annotation") or "") != wanted:
            changes["annotation"] = wanted
        if url and website_of(item) != url:
            changes["url"] = url
        if changes:
            self.update_item(str(item["id"]), **changes)
