"""The Notion property map: our fields, their default property names, the types each accepts,
and the check of a data source's schema against the map (`SchemaReport`).

Users' databases differ (`DL` vs `Downloaded`, Key as select or text), so names come from
configuration and types are checked once per build, with an error that names both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cratefile.errors import CatalogError

# Our field -> the property name in a typical "Music Tracks" database (REFERENCE.md).
DEFAULT_PROPERTIES: dict[str, str] = {
    "title": "Title",
    "artist": "Artist Name",
    "source_url": "SoundCloud URL",
    "downloaded": "Downloaded",
    "bpm": "Tempo",
    "key": "Key",
    "duration": "Audio Duration (seconds)",
    "paths": "WAV/AIFF/M4A File Path",
    "eagle_id": "Eagle File ID",
    "status": "Audio Processing Status",
    "playlists": "Playlists",
    "lock": "Processing Lock",
}

# Our field -> the Notion types it can live in; the first is what init-schema creates.
COMPATIBLE: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "artist": ("rich_text",),
    "source_url": ("url", "rich_text"),
    "downloaded": ("checkbox",),
    "bpm": ("number",),
    "key": ("rich_text", "select"),
    "duration": ("number",),
    "paths": ("rich_text",),
    "eagle_id": ("rich_text",),
    "status": ("multi_select", "select", "status"),
    "playlists": ("multi_select", "rich_text"),
    "lock": ("rich_text",),
}

# "path.<format>" maps one format's file path to its own property (e.g. path.wav: "WAV Path").
PATH_FIELD_PREFIX = "path."

# Fields whose absence is not an error: a missing lock property turns locking off.
OPTIONAL_FIELDS = frozenset({"lock"})


class NotionSchemaError(CatalogError):
    """The database's properties do not fit the property map."""


def compatible_types(our_field: str) -> tuple[str, ...]:
    if our_field.startswith(PATH_FIELD_PREFIX):
        return ("rich_text",)
    return COMPATIBLE[our_field]


def property_map(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Defaults overridden by configuration. A field mapped to "" is switched off."""
    mapping = dict(DEFAULT_PROPERTIES)
    unknown = []
    for our_field, name in pairs:
        if our_field not in COMPATIBLE and not (
            our_field.startswith(PATH_FIELD_PREFIX) and len(our_field) > len(PATH_FIELD_PREFIX)
        ):
            unknown.append(our_field)
            continue
        mapping[our_field] = name
    if unknown:
        known = ", ".join([*COMPATIBLE, "path.<format>"])
        raise NotionSchemaError(
            f"notion.properties: unknown field(s) {', '.join(map(repr, unknown))} (known: {known})"
        )
    return {f: n for f, n in mapping.items() if n}


@dataclass(frozen=True)
class SchemaReport:
    """What the data source holds for each mapped field."""

    database_id: str
    data_source_id: str
    present: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # field -> (name, type)
    missing: tuple[tuple[str, str], ...] = ()  # (field, property name)
    mismatched: tuple[tuple[str, str, str], ...] = ()  # (field, property name, actual type)
    title_property: str | None = None  # the data source's real title property
    all_types: Mapping[str, str] = field(default_factory=dict)  # every property -> type

    @property
    def locking(self) -> bool:
        return "lock" in self.present

    def name(self, our_field: str) -> str | None:
        got = self.present.get(our_field)
        return got[0] if got else None

    def type(self, our_field: str) -> str | None:
        got = self.present.get(our_field)
        return got[1] if got else None

    def problems(self) -> list[str]:
        """One line per problem, each naming our field, the user's property and the types."""
        lines = []
        for our_field, name, actual in self.mismatched:
            want = " or ".join(compatible_types(our_field))
            lines.append(
                f"notion.properties.{our_field}: property {name!r} is {actual}, expected {want}"
            )
        for our_field, name in self.missing:
            if our_field in OPTIONAL_FIELDS:
                continue
            hint = "run `cratefile notion init-schema` to add it, or map the field to another property"
            if our_field == "title" and self.title_property:
                hint = f"the database's title property is {self.title_property!r}: map title to it"
            lines.append(f"notion.properties.{our_field}: no property {name!r} in the database ({hint})")
        return lines


def read_report(
    database_id: str, data_source: Mapping[str, Any], mapping: Mapping[str, str]
) -> SchemaReport:
    """Compare a retrieved data source object with the property map (no I/O)."""
    props: Mapping[str, Any] = data_source.get("properties") or {}
    types = {name: p.get("type", "?") for name, p in props.items()}
    title = next((n for n, t in types.items() if t == "title"), None)
    present: dict[str, tuple[str, str]] = {}
    missing: list[tuple[str, str]] = []
    mismatched: list[tuple[str, str, str]] = []
    for our_field, name in mapping.items():
        actual = types.get(name)
        if actual is None:
            missing.append((our_field, name))
        elif actual not in compatible_types(our_field):
            mismatched.append((our_field, name, actual))
        else:
            present[our_field] = (name, actual)
    return SchemaReport(
        database_id=database_id,
        data_source_id=str(data_source.get("id", "")),
        present=present,
        missing=tuple(missing),
        mismatched=tuple(mismatched),
        title_property=title,
        all_types=types,
    )


def creation_spec(our_field: str) -> dict[str, Any]:
    """The data-source PATCH body entry that adds a property for `our_field`."""
    typ = compatible_types(our_field)[0]
    config: dict[str, Any] = {}
    if typ == "number":
        config = {"format": "number"}
    elif typ in ("select", "multi_select"):
        config = {"options": []}
    return {typ: config}
