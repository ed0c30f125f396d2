"""A toy sink, `tracklist: {path: tracks.txt}`: one line per built file, written after publish.

The whole of what a new sink needs: a schema fragment, parse, tasks (through BuildView) and an
action. Registered by one line: `SINKS["tracklist"] = TracklistSink()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.actions import action
from cratefile.records import Manifest, digest
from cratefile.sinks.base import BuildView, SinkBase, Verb, quiet


@action("tracklist", scope="sink")
def write_tracklist(run: Any, name: str, path: str, lines: list[str]) -> None:
    Path(path).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _count(manifest: Manifest, words: Sequence[str]) -> int:
    path = manifest.sink("tracklist")
    print(f"{len(path.read_text().splitlines())} tracks listed")
    return 0


class TracklistSink(SinkBase):
    name = "tracklist"
    section = "tracklist"
    after = "publish"
    schema = {
        "description": "Write a text file listing every built file.",
        "type": "object",
        "additionalProperties": False,
        "properties": {"path": {"description": "Where, relative to playlists.yaml.", "type": "string"}},
    }
    verbs = {"tracklist count": Verb("tracklist count   how many files the list names", _count)}

    def parse(self, section: Any, reader: Any) -> Path:
        return reader.local_path(section.get("path", "tracks.txt"))

    def tasks(self, build: BuildView, config: Path) -> Iterator[dict[str, Any]]:
        lines = sorted(Path(p).name for p in build.built)
        yield {
            "name": "txt",
            "actions": [(write_tracklist, [build.run, self.name, str(config), lines])],
            "targets": [str(config)],
            "uptodate": [config_changed(digest(lines))],
            **quiet(),
        }
