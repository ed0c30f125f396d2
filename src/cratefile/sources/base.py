"""The Source protocol: what a kind of playlist source (folder, yt-dlp URL, Notion, ...) owns.

A kind owns, for the playlist entries that carry its key (`folder:`, `url:`, `notion:`):
- its JSON Schema fragment (`schema`), merged into the manifest's schema by the registry;
- parsing that value into the frozen `SourceSpec` the playlist record holds (`parse`);
- enumerating the source into a snapshot's ordered refs (`enumerate`);
- saying when a snapshot can be reused without asking the source (`fresh`);
- bringing one ref's audio into `cache/audio` as a typed `Sidecar` (`download`) and saying
  whether a sidecar still describes the audio it points at (`current`).

Sources take plain data and the run's `RunContext`; they never import the engine or a stage.
Adding a kind is one module implementing this protocol plus one line in `sources/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cratefile.records import FormatRecipe, Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext


class ManifestReader(Protocol):
    """What a kind (source or sink) may ask of the manifest while parsing its part of it."""

    # read-only properties, so a reader may hold them in plain dicts
    @property
    def data(self) -> Mapping[str, Any]:
        """The whole manifest, ${VAR}s substituted, schema-valid."""

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def recipes(self) -> Mapping[str, FormatRecipe]:
        """Every known format, by name."""

    def bad(self, path: YamlPath, what: str, fix: str = "", *, key: bool = False) -> None:
        """Record a problem at `path` (reported with file:line, all problems at once)."""

    def show(self, path: YamlPath) -> str:
        """The value at `path` as a message may show it (never a secret from the environment)."""

    def from_env(self, path: YamlPath) -> bool:
        """The value at `path` came from a ${VAR} (so it must not be echoed)."""

    def local_path(self, raw: str) -> Path:
        """A path from the manifest: ~ expanded, relative to the manifest's folder, normalized."""

    def secret(self, value: str) -> None:
        """Never let `value` appear in any message."""

    def formats(self, path: YamlPath, default: tuple[str, ...]) -> tuple[str, ...]:
        """Format names at `path`, each checked against rules/formats.yaml."""


@dataclass(frozen=True)
class Listing:
    """What one enumeration found: the refs in order, extra facts kept in the snapshot for
    `fresh`, and entries that could not be listed (each a one-line reason: they fail
    alone, the rest of the playlist is built)."""

    refs: tuple[TrackRef, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


class Source(Protocol):
    kind: str  # the playlist entry's key: 'folder', 'url', 'notion'
    schema: Mapping[str, Any]  # JSON Schema of the value under that key
    # Optional (SourceBase gives the defaults): a top-level settings section shared by every
    # playlist of the kind (`spotify: {client_id_env: ...}`), read back with
    # `manifest.settings(kind)`, and CLI verbs (`cratefile login spotify`).
    settings: str | None
    settings_schema: Mapping[str, Any] | None
    verbs: Mapping[str, Any]  # verb words -> sinks.base.Verb

    def parse_settings(self, section: Any, reader: ManifestReader) -> Any:
        """The kind's frozen settings from its schema-valid top-level section (None if absent)."""
        ...

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        """The frozen spec of a schema-valid value; problems go to `reader.bad`."""
        ...

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        """The source's tracks now. Raises SourceError when the source as a whole is
        unavailable (that playlist fails; its previous snapshot stands)."""
        ...

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        """The snapshot whose stored facts are `meta` can be reused without asking the source."""
        ...

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        """Bring `ref`'s audio under `dest` (or point at it); raises TrackFailure."""
        ...

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        """The sidecar still describes audio that is there and unchanged."""
        ...


class SourceBase:
    """Defaults for the optional parts of the Source protocol."""

    settings: str | None = None
    settings_schema: Mapping[str, Any] | None = None
    verbs: Mapping[str, Any] = {}

    @property
    def verb_words(self) -> tuple[str, ...]:
        return tuple(self.verbs)

    def parse_settings(self, section: Any, reader: ManifestReader) -> Any:
        return section
