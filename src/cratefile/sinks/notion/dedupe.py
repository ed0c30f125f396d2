"""`cratefile notion dedupe`: pages that share a normalized source URL (made by older tools or
by hand) are merged into the oldest, and the others move to the trash. Pages of acoustic
duplicates (cratefile.quality: the catalog's `duplicate_of`, given as `aliases`: source URL ->
the kept recording's) are one group too, merged into the kept recording's page when there is one.

`plan_dedupe` is pure (pages in, groups and merged values out); `run_dedupe` reads every page
once, patches each kept page with only the values it lacked, then trashes the rest — in that
order, so an interrupted run loses nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cratefile.sinks.notion.api import NotionApi
from cratefile.sinks.notion.schema import SchemaReport
from cratefile.sinks.notion.sync import canon, created_order
from cratefile.sinks.notion.values import (
    decode,
    is_empty,
    normalize_url,
    payload,
    prop_types,
    same,
)

MERGEABLE = frozenset({"title", "rich_text", "url", "checkbox", "number", "select", "multi_select", "status"})


@dataclass(frozen=True)
class DedupeGroup:
    url: str  # the normalized source URL the pages share
    keep: str  # page id of the oldest page, which receives the merged values
    trash: tuple[str, ...]  # the other pages, oldest first
    merged: tuple[str, ...] = ()  # properties filled in on the kept page
    values: dict[str, tuple[str, Any]] = field(default_factory=dict, compare=False, repr=False)


def _richness(page: dict[str, Any]) -> int:
    return sum(0 if is_empty(decode(p)) else 1 for p in (page.get("properties") or {}).values())


def _merge(keep: dict[str, Any], others: Sequence[dict[str, Any]], skip: set[str]) -> dict[str, tuple[str, Any]]:
    """Values the kept page should take from the others: its empty properties get the first
    non-empty value, checkboxes are OR-ed, multi-selects united."""
    out: dict[str, tuple[str, Any]] = {}
    for name, typ in prop_types(keep).items():
        if name in skip or typ not in MERGEABLE:
            continue
        mine = decode(keep["properties"][name])
        theirs = [decode((o.get("properties") or {}).get(name)) for o in others]
        if typ == "multi_select":
            union = list(mine or ())
            for values in theirs:
                union += [v for v in values or () if v not in union]
            wanted: Any = tuple(union)
        elif typ == "checkbox":
            wanted = bool(mine) or any(bool(v) for v in theirs)
        elif is_empty(mine):
            wanted = next((v for v in theirs if not is_empty(v)), mine)
        else:
            continue
        if not same(typ, mine, wanted):
            out[name] = (typ, wanted)
    return out


def plan_dedupe(pages: Sequence[dict[str, Any]], report: SchemaReport,
                aliases: Mapping[str, str] | None = None) -> list[DedupeGroup]:
    url_prop = report.name("source_url")
    if url_prop is None:
        return []
    aliases = aliases or {}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    own: dict[str, str] = {}  # page id -> its own normalized URL
    for page in pages:
        url = normalize_url(decode((page.get("properties") or {}).get(url_prop)))
        if url:
            own[page["id"]] = url
            groups[aliases.get(url, url)].append(page)
    skip = {n for n in (report.name("lock"),) if n}
    out = []
    for url, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        # Oldest first. created_time has minute precision: among pages of the same minute the
        # fuller one is kept, then the id decides, so the choice is stable between runs.
        # An acoustic group keeps the page of the recording kept (the best source) first of all.
        members.sort(key=lambda p: (own[p["id"]] != url, created_order(p)[0], -_richness(p), canon(p["id"])))
        keep, rest = members[0], members[1:]
        values = _merge(keep, rest, skip)
        out.append(DedupeGroup(url, keep["id"], tuple(p["id"] for p in rest), tuple(values), values))
    return out


def run_dedupe(api: NotionApi, report: SchemaReport, *, dry_run: bool,
               aliases: Mapping[str, str] | None = None) -> list[DedupeGroup]:
    groups = plan_dedupe(list(api.query(report.data_source_id)), report, aliases)
    if dry_run:
        return groups
    for group in groups:
        if group.values:
            api.update_page(group.keep, properties=payload(group.values),
                            sent={n: v for n, (_t, v) in group.values.items()})
        for page_id in group.trash:
            api.update_page(page_id, in_trash=True)
    return groups
