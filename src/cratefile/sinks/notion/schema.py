"""The Notion property map: our fields, their default property names, the types each accepts,
and the check of a data source's schema against the map (`SchemaReport`).

Users' databases differ (`DL` vs `Downloaded`, Key as select or text), so names come from
configuration and types are checked once per build, with an error that names both sides.
A field the manifest does not name and whose default property is not in the database is
looked up among common names (`auto_map`: case- and punctuation-insensitive, type-checked);
one property per format (`WAV File Path`) maps to `path.<format>`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
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
    "quality": "Source Quality",
    "listing_url": "Listing URL",
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
    "quality": ("rich_text", "select"),
    "listing_url": ("url", "rich_text"),
}

# "path.<format>" maps one format's file path to its own property (e.g. path.wav: "WAV Path").
PATH_FIELD_PREFIX = "path."

# Fields whose absence is not an error: a missing lock property turns locking off.
OPTIONAL_FIELDS = frozenset({"lock", "quality", "listing_url"})

# Other names the property of a field often has, tried in this order after the default name
# (`auto_map`). The title needs none: a data source has exactly one title property.
ALIASES: dict[str, tuple[str, ...]] = {
    "artist": ("Artist", "Artists", "Artist(s)", "Artist Names"),
    "source_url": ("SoundCloud", "SoundCloud Link", "Source URL", "Source", "URL", "Link", "Track URL",
                   "Track Link"),
    "downloaded": ("DL", "Downloaded?", "Is Downloaded"),
    "bpm": ("BPM", "Tempo (BPM)", "BPM (detected)"),
    "key": ("Camelot", "Camelot Key", "Musical Key", "Key (Camelot)"),
    "duration": ("Duration", "Duration (s)", "Duration (seconds)", "Length", "Length (s)", "Seconds"),
    "paths": ("File Path", "File Paths", "Paths", "Path", "Files", "Local Path"),
    "eagle_id": ("Eagle ID", "Eagle Item ID", "Eagle Item", "Eagle"),
    "status": ("Status", "Processing Status", "Audio Status"),
    "playlists": ("Playlist", "Crates", "Crate"),
    "lock": ("Lock", "Locked By", "Processing Locked By"),
    "quality": ("Quality", "Audio Quality", "Provenance", "Source Format", "Lossless", "Bitrate"),
    # the Spotify/Discogs page a search-matched track was listed on (cratefile.resolve)
    "listing_url": ("Spotify URL", "Spotify Link", "Spotify", "Discogs URL", "Discogs Link", "Discogs",
                    "Release URL"),
}

# Types a field accepts but auto-mapping does not choose: a Notion `status` property takes
# only the options it already has, so a generic "Status" would refuse ours.
NOT_AUTO_TYPES: dict[str, frozenset[str]] = {"status": frozenset({"status"})}

# "WAV File Path", "aiff path", "M4A Path" -> path.wav, path.aiff, path.m4a
_PER_FORMAT = re.compile(r"^\s*(wav|wave|aiff|aif|flac|alac|mp3|m4a|aac|ogg|opus)\s*(?:file\s*)?paths?\s*$",
                         re.IGNORECASE)


def _norm(name: str) -> str:
    """The name as auto-mapping compares it: case, spaces and punctuation do not count."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


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


def auto_map(
    types: Mapping[str, str], mapping: Mapping[str, str], explicit: Collection[str]
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """Fit the property map to the database's properties (`types`: name -> type).

    A field the manifest maps (`explicit`, "" included) is left alone: configuration always
    wins. Any other field whose default property is not in the database with a fitting type
    takes the first unused property of a fitting type whose name matches, case- and
    punctuation-insensitively, its default or one of its `ALIASES`; the title takes the data
    source's title property. Unused text properties named like `WAV File Path` map to
    `path.wav`, and then a combined `paths` property the database lacks is off rather than
    missing. Returns the new map and the (property name, field) pairs chosen this way."""
    out = dict(mapping)
    fits = {f: n for f, n in out.items() if types.get(n) in compatible_types(f)}
    taken = set(fits.values()) | {n for f, n in out.items() if f in explicit}
    by_norm: dict[str, list[str]] = {}
    for name in types:
        by_norm.setdefault(_norm(name), []).append(name)
    chosen: list[tuple[str, str]] = []

    def pick(our_field: str, candidates: Collection[str]) -> str | None:
        for candidate in candidates:
            for name in by_norm.get(_norm(candidate), []):
                typ = types[name]
                if name not in taken and typ in compatible_types(our_field) \
                        and typ not in NOT_AUTO_TYPES.get(our_field, frozenset()):
                    return name
        return None

    for our_field in [*DEFAULT_PROPERTIES, *(f for f in out if f.startswith(PATH_FIELD_PREFIX))]:
        if our_field in explicit or our_field in fits or our_field not in out:
            continue
        if our_field == "title":
            found = next((n for n, t in types.items() if t == "title" and n not in taken), None)
        else:
            found = pick(our_field, [out[our_field], *ALIASES.get(our_field, ())])
        if found is not None:
            out[our_field] = found
            taken.add(found)
            chosen.append((found, our_field))
    for name, typ in types.items():
        m = _PER_FORMAT.match(name)
        if m is None or name in taken or typ not in compatible_types(PATH_FIELD_PREFIX + "x"):
            continue
        fmt = {"wave": "wav", "aif": "aiff"}.get(m[1].lower(), m[1].lower())
        our_field = PATH_FIELD_PREFIX + fmt
        if our_field in explicit or our_field in out:
            continue
        out[our_field] = name
        taken.add(name)
        chosen.append((name, our_field))
    per_format = any(f.startswith(PATH_FIELD_PREFIX) for f in out)
    if per_format and "paths" in out and "paths" not in explicit and out["paths"] not in types:
        del out["paths"]  # the database keeps one property per format instead
    return out, tuple(chosen)


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
    auto_mapped: tuple[tuple[str, str], ...] = ()  # (property name, field) found by `auto_map`

    @property
    def locking(self) -> bool:
        return "lock" in self.present

    def name(self, our_field: str) -> str | None:
        got = self.present.get(our_field)
        return got[0] if got else None

    def type(self, our_field: str) -> str | None:
        got = self.present.get(our_field)
        return got[1] if got else None

    def mapping_note(self) -> str | None:
        """One line naming the properties auto-mapping chose; None when it chose none."""
        if not self.auto_mapped:
            return None
        pairs = ", ".join(f"{name} → {f}" for name, f in self.auto_mapped)
        return f"Notion: mapped {pairs} (matched by name; notion.properties chooses others)"

    def built(self, page: Mapping[str, Any]) -> bool:
        """Does the page say its track is built? Its downloaded checkbox when the database has
        one; otherwise any non-empty file path property (`paths` or `path.<format>`)."""
        from cratefile.sinks.notion.values import decode

        props: Mapping[str, Any] = page.get("properties") or {}
        name = self.name("downloaded")
        if name is not None:
            return decode(props.get(name)) is True
        return any(
            bool(decode(props.get(name)))
            for f, (name, _typ) in self.present.items()
            if f == "paths" or f.startswith(PATH_FIELD_PREFIX)
        )

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
    database_id: str,
    data_source: Mapping[str, Any],
    mapping: Mapping[str, str],
    *,
    explicit: Collection[str] | None = None,
) -> SchemaReport:
    """Compare a retrieved data source object with the property map (no I/O). With
    `explicit` (the fields the manifest maps), the other fields are auto-mapped first."""
    props: Mapping[str, Any] = data_source.get("properties") or {}
    types = {name: p.get("type", "?") for name, p in props.items()}
    auto: tuple[tuple[str, str], ...] = ()
    if explicit is not None:
        mapping, auto = auto_map(types, mapping, explicit)
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
        auto_mapped=auto,
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
