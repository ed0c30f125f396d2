"""A toy source kind, `tone: {bpm: [120, 124], key: Am}`: one synthesized track per BPM.

The whole of what a new kind needs: a schema fragment, parse, enumerate, fresh, download,
current. Registered by one line: `SOURCES["tone"] = ToneSource()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.sources.base import Listing, ManifestReader, SourceBase


class ToneSource(SourceBase):
    kind = "tone"
    schema: Mapping[str, Any] = {
        "description": "Synthesized test tones: one track per BPM.",
        "type": "object",
        "additionalProperties": False,
        "required": ["bpm"],
        "properties": {
            "bpm": {"description": "Tempi.", "type": "array", "items": {"type": "number"}, "minItems": 1},
            "key": {"description": "Musical key.", "type": "string"},
        },
    }

    def parse(self, value: Any, path: tuple, reader: ManifestReader) -> SourceSpec:
        if any(b <= 0 for b in value["bpm"]):
            reader.bad((*path, "bpm"), "a tempo must be positive", "e.g. bpm: [120]")
        spec = ",".join(f"{b:g}" for b in value["bpm"]) + "@" + value.get("key", "Am")
        return SourceSpec(self.kind, f"tone:{spec}")

    def enumerate(self, run: Any, playlist: Playlist) -> Listing:
        tempi, key = playlist.source.location.removeprefix("tone:").split("@")
        refs = tuple(TrackRef(f"tone {b}-{key}", f"tone:{b}", title=f"Tone {b}", artist="Toy",
                              entry={"bpm": float(b), "key": key}) for b in tempi.split(","))
        return Listing(refs, {"tones": tempi})

    def fresh(self, run: Any, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        return True  # the location is the whole source: a changed manifest is a new location

    def download(self, run: Any, ref: TrackRef, dest: Path) -> Sidecar:
        from cratefile.synth import render

        audio = dest / f"{ref.stem}.wav"
        render(audio, bpm=ref.entry["bpm"], key=ref.entry["key"], seconds=8.0)
        return Sidecar(key=ref.key, url=ref.url, audio=audio.name, ext="wav", title=ref.title, artist=ref.artist)

    def current(self, run: Any, sidecar: Sidecar) -> bool:
        return (run.layout.audio / sidecar.audio).is_file()
