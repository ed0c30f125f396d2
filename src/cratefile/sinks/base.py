"""The Sink protocol: where built files go after the library is made.

A sink (playlist folders + M3U8, Rekordbox XML, Eagle, Notion, ...) owns:
- its manifest section (`section`, the top-level key) and that section's JSON Schema
  fragment (`schema`), merged into the manifest's schema by the registry; `parse` turns the
  section into the sink's frozen config (`Manifest.sink(name)`); a sink with no section
  (`section = None`) is always on;
- the doit tasks it adds once the core stages ran (`tasks`), seeing the build only through
  `BuildView`; `after` names the group whose tasks must have run first;
- optional CLI verbs (`verbs`: `cratefile notion dedupe`, `cratefile export rekordbox`);
- optional hooks: `before_download` (Notion's processing lock) and `end_of_run`.

Sinks never import the engine. Adding a sink is one package under `sinks/` plus one line in
`sinks/__init__.py`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cratefile.layout import Layout
from cratefile.records import Claim, Manifest, Sidecar, Snapshot, TrackRef

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.sources.base import ManifestReader

# cratefile <verb> <words...>: returns the exit code; raise UsageError for a misuse
VerbHandler = Callable[[Manifest, Sequence[str]], int]


@dataclass(frozen=True)
class Verb:
    usage: str  # one line for `cratefile --help`: 'notion dedupe [--dry-run]   merge ...'
    run: VerbHandler


@dataclass(frozen=True)
class BuildView:
    """What a sink sees of the build when its tasks are made: every claimed track, its file
    name, the library files that exist now, and the run (to hand to its actions)."""

    run: RunContext
    snapshots: Mapping[str, Snapshot | None]
    claims: Mapping[str, Claim]  # track key -> claim, in manifest order
    names: Mapping[str, str]  # track key -> file stem in the library
    built: frozenset[str]  # library files that exist (absolute paths as str)
    # (mtime_ns, size) of library files as this run found them in place, where it knows them
    # (the tracks proven clean, which no task of the run touches): a check need not stat them again
    file_sigs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # track key -> the same of its sidecar and analysis JSON (cache/audio/<stem>.json,
    # cache/analysis/<stem>.json; None: missing), for the tracks proven clean
    state_sigs: Mapping[str, tuple[tuple[int, int] | None, tuple[int, int] | None]] = field(default_factory=dict)

    @property
    def manifest(self) -> Manifest:
        return self.run.manifest

    @property
    def layout(self) -> Layout:
        return self.run.layout

    def output(self, key: str, fmt: str) -> Path | None:
        """The library file of `key` in `fmt` when it exists, else None."""
        path = self.output_file(key, fmt)
        return Path(path) if path is not None else None

    def output_file(self, key: str, fmt: str) -> str | None:
        """`output` as a str: sinks ask once per track and format (60,000 times for a 20,000-
        track library in three formats), and a Path costs ~10 us to make and read back."""
        name = self.names.get(key)
        if name is None:
            return None
        prefix, ext = self._folders[fmt]
        path = f"{prefix}{name}{ext}"  # str(Layout.output(...))
        return path if path in self.built else None

    def output_files(self, key: str, formats: Sequence[str]) -> list[str | None]:
        """`output_file` of each of `formats`, the track's name looked up once."""
        name = self.names.get(key)
        if name is None:
            return [None] * len(formats)
        folders, built = self._folders, self.built
        out: list[str | None] = []
        for fmt in formats:
            prefix, ext = folders[fmt]
            path = f"{prefix}{name}{ext}"
            out.append(path if path in built else None)
        return out

    @functools.cached_property
    def _folders(self) -> dict[str, tuple[str, str]]:
        """format -> ('<library>/<format>/', '.<extension>')."""
        return {fmt: (os.path.join(self.manifest.library, fmt, ""), f".{recipe.extension}")
                for fmt, recipe in self.manifest.formats.items()}


class Sink(Protocol):
    # Read-only properties, so a sink may declare them as narrower class attributes
    # (section = "notion") or as properties (SinkBase.basename).
    @property
    def name(self) -> str:
        """Its key in SINKS."""
        ...

    @property
    def basename(self) -> str:
        """The doit basename of its tasks ('publish' for the playlists sink)."""
        ...

    @property
    def section(self) -> str | None:
        """Its top-level manifest key; None: always on, no section."""
        ...

    @property
    def schema(self) -> Mapping[str, Any] | None:
        """JSON Schema of the section."""
        ...

    @property
    def after(self) -> str:
        """'convert', 'publish' or another sink's name."""
        ...

    @property
    def verbs(self) -> Mapping[str, Verb]: ...

    def parse(self, section: Any, reader: ManifestReader) -> Any:
        """The sink's frozen config from its schema-valid section (None when absent and the
        sink has no section); problems go to `reader.bad`."""
        ...

    def tasks(self, build: BuildView, config: Any) -> Iterator[dict[str, Any]]:
        """doit task dicts (without basename: the sink's name is used)."""
        ...

    def before_download(self, run: RunContext, key: str) -> None:
        """Called before a track is downloaded; raise TrackFailure to skip it this run."""
        ...

    def supply(self, run: RunContext, config: Any, ref: TrackRef, dest: Path) -> Sidecar | None:
        """Called before a remote track is downloaded: the sidecar of a copy this sink's app
        already holds (put under `dest`), so that it is not downloaded; None to download it."""
        ...

    def end_of_run(self, run: RunContext) -> None:
        """Called once when the run ends (also after an interrupt)."""
        ...


class SinkBase:
    """Defaults for the optional parts of the protocol."""

    name: str
    section: str | None = None
    schema: Mapping[str, Any] | None = None
    after = "convert"
    verbs: Mapping[str, Verb] = {}

    @property
    def basename(self) -> str:
        return self.name

    @property
    def verb_words(self) -> tuple[str, ...]:
        return tuple(self.verbs)

    def parse(self, section: Any, reader: ManifestReader) -> Any:
        return section

    def before_download(self, run: RunContext, key: str) -> None:
        return None

    def supply(self, run: RunContext, config: Any, ref: TrackRef, dest: Path) -> Sidecar | None:
        return None

    def end_of_run(self, run: RunContext) -> None:
        return None


def quiet() -> dict[str, Any]:
    """Actions print nothing (they log), so doit need not capture their output: its capture
    swaps the process-wide sys.stdout/stderr from worker threads, and those swaps race."""
    return {"verbosity": 0, "io": {"capture": False}}
