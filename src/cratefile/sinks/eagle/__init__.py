"""The Eagle sink: import built files into the Eagle app (eagle.cool), once each.

`eagle: {formats, folder, api_url}`: tasks `eagle:<stem>:<fmt>` for each built file of a
format Eagle wants, into its playlists' folders. Eagle not running is one line in the report;
the rest of the build goes on and the Eagle step is retried next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.errors import SinkError
from cratefile.quality.aliases import Published
from cratefile.records import Sidecar, TrackRef, digest, stem_of
from cratefile.sinks.base import BuildView, SinkBase, quiet
from cratefile.sinks.eagle.step import run_eagle
from cratefile.sinks.schema import load_fragment
from cratefile.sources.base import ManifestReader

FOLDER_FIELDS = ("playlist",)


@dataclass(frozen=True)
class EagleConfig:
    api_url: str = "http://localhost:41595"
    formats: tuple[str, ...] = ("wav", "aiff")
    folder: str = "Playlists/{playlist}"


class EagleSink(SinkBase):
    name = "eagle"
    section = "eagle"
    schema = load_fragment(__name__)
    after = "convert"

    def parse(self, section: Any, reader: ManifestReader) -> EagleConfig:
        from cratefile.manifest import template_problems

        defaults = EagleConfig()
        folder = section.get("folder", defaults.folder)
        if "folder" in section:
            template_problems(reader, ("eagle", "folder"), folder, FOLDER_FIELDS)
        return EagleConfig(
            api_url=section.get("api_url", defaults.api_url).rstrip("/"),
            formats=reader.formats(("eagle", "formats"), defaults.formats),
            folder=folder,
        )

    def supply(self, run: Any, config: EagleConfig, ref: TrackRef, dest: Path) -> Sidecar | None:
        """A copy the user's Eagle library holds of a track about to be downloaded (supply.py)."""
        from cratefile.sinks.eagle.supply import supply

        return supply(run, config, ref, dest)

    def check(self, manifest: Any, config: EagleConfig) -> str:
        """`cratefile check`: Eagle answers at its API URL (one request)."""
        from cratefile.sinks.eagle.client import EagleClient, EagleError

        try:
            with EagleClient(config.api_url) as client:
                info = client.application_info()
        except EagleError as exc:
            raise SinkError(str(exc)) from exc
        return f"Eagle {info.get('version', '?')} at {config.api_url}"

    def tasks(self, build: BuildView, config: EagleConfig) -> Iterator[dict[str, Any]]:
        published = Published.of(build)
        for key, claim in build.claims.items():
            name = build.names.get(key)
            if name is None or published.key_of(key) != key:  # an alias found in this run: the kept track's item
                continue
            # a kept track's claim lists its aliases' playlists too: it goes into their folders
            playlists = [p.name for p in claim.playlists]
            for fmt in claim.formats:
                path = published.output(key, fmt) if fmt in config.formats else None
                if path is None:
                    continue
                fingerprint = digest([build.manifest.formats[fmt].digest, key, name])
                yield {
                    "name": f"{stem_of(key)}:{fmt}",
                    "doc": f"Eagle item for {path.name}",
                    "actions": [(run_eagle, [build.run, key, fmt, config, str(path), playlists, fingerprint])],
                    "file_dep": [str(path), str(build.layout.analysis(key))],
                    "uptodate": [config_changed(digest([config.api_url, config.folder, playlists, fingerprint]))],
                    **quiet(),
                }
