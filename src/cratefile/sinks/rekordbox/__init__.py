"""The Rekordbox sink: a Rekordbox XML (collection + one playlist per manifest playlist).

`rekordbox: {path, format}` makes it a build target (`rekordbox:xml`, rewritten when a built
file or a playlist's order changes); `cratefile export rekordbox [-o FILE] [--format FMT]`
writes one on demand, by default at the same path.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.errors import UsageError
from cratefile.quality.aliases import Published
from cratefile.records import Manifest, digest
from cratefile.sinks.base import BuildView, SinkBase, Verb, quiet
from cratefile.sinks.rekordbox.step import run_rekordbox
from cratefile.sinks.schema import load_fragment
from cratefile.sources.base import ManifestReader

DEFAULT_PATH = "library/rekordbox.xml"


@dataclass(frozen=True)
class RekordboxConfig:
    path: Path  # absolute
    format: str | None = None  # None: each playlist's first format


def default_path(manifest: Manifest) -> Path:
    config = manifest.sink("rekordbox")
    return config.path if config is not None else manifest.root / DEFAULT_PATH


def _export_verb(manifest: Manifest, words: Sequence[str]) -> int:
    from cratefile.sinks.rekordbox.export import export_rekordbox

    parser = argparse.ArgumentParser(prog="cratefile export rekordbox", add_help=False, exit_on_error=False)
    parser.add_argument("-o", "--output")
    parser.add_argument("--format")
    try:
        opts, extra = parser.parse_known_args(list(words))
    except argparse.ArgumentError as exc:
        raise UsageError(f"export rekordbox: {exc}") from exc
    if extra:
        raise UsageError(f"export rekordbox: unknown argument {extra[0]!r}"
                         " (cratefile export rekordbox [-o FILE] [--format FMT])")
    dest = Path(opts.output) if opts.output else default_path(manifest)
    config = manifest.sink("rekordbox")
    fmt = opts.format or (config.format if config is not None else None)
    tracks, playlists = export_rekordbox(manifest, dest, fmt)
    print(f"{dest}: {tracks} tracks, {playlists} playlists")
    return 0


class RekordboxSink(SinkBase):
    name = "rekordbox"
    section = "rekordbox"
    schema = load_fragment(__name__)
    after = "publish"
    verbs: Mapping[str, Verb] = {
        "export rekordbox": Verb("export rekordbox [-o FILE] [--format FMT]   Rekordbox XML: collection + "
                                 "one playlist each", _export_verb),
    }

    def parse(self, section: Any, reader: ManifestReader) -> RekordboxConfig:
        fmt = section.get("format")
        if fmt is not None and fmt not in reader.recipes:
            reader.bad(("rekordbox", "format"), f"{reader.show(('rekordbox', 'format'))} is not a format in "
                       "rules/formats.yaml", f"known: {', '.join(sorted(reader.recipes))}")
        return RekordboxConfig(path=reader.local_path(section.get("path", DEFAULT_PATH)), format=fmt)

    def tasks(self, build: BuildView, config: RekordboxConfig) -> Iterator[dict[str, Any]]:
        order = {slug: [t.key for t in snap.tracks] if snap else [] for slug, snap in build.snapshots.items()}
        published = Published.of(build).changes()  # aliases and from_lossy: skip change entries too
        yield {
            "name": "xml",
            "doc": f"Rekordbox XML at {config.path}",
            "actions": [(run_rekordbox, [build.run, self.name, config])],
            "file_dep": sorted(build.built),
            "targets": [str(config.path)],
            "uptodate": [config_changed(digest([config.format, order, dict(build.names), published]))],
            **quiet(),
        }
