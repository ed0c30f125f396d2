"""A lost catalog is refilled from the files a build keeps, instead of rebuilding anything.

Snapshots give the playlists and their order, sidecars the track metadata, analysis JSON the
BPM and key, and the library the files per format. Runs once, in a run that started without
cache/catalog.sqlite; Notion page ids and Eagle item ids come back through their sinks, which
look pages and items up before creating any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cratefile.atomic import read_json
from cratefile.context import RunContext
from cratefile.freshness import audio_inputs, convert_inputs
from cratefile.plan import convert_digest
from cratefile.records import AnalysisResult, Claim, Sidecar, Snapshot


def refill_catalog(ctx: RunContext, snapshots: Mapping[str, Snapshot | None], claims: Mapping[str, Claim],
                   names: Mapping[str, str]) -> None:
    layout, catalog = ctx.layout, ctx.catalog
    for playlist in ctx.manifest.playlists:
        snap = snapshots.get(playlist.slug)
        if snap is not None:
            catalog.ensure_tracks((t.key, t.url, t.title, t.artist) for t in snap.tracks)
            catalog.set_playlist(playlist.slug, playlist.name, snap.source, snap.fetched_at,
                                 [t.key for t in snap.tracks])
    for key, claim in claims.items():
        sidecar = Sidecar.from_json(read_json(layout.sidecar(key)))
        if sidecar is None:
            continue
        fields: dict[str, Any] = {"url": sidecar.url, "title": sidecar.title, "artist": sidecar.artist,
                                  "album": sidecar.album, "duration": sidecar.duration, "status": "downloaded"}
        analysis = AnalysisResult.from_json(read_json(layout.analysis(key)))
        if analysis is not None:
            fields.update(bpm=analysis.bpm, bpm_alt=analysis.bpm_alt, bpm_source=analysis.bpm_source,
                          musical_key=analysis.musical_key,
                          key_source=analysis.key_source,
                          bpm_confidence=analysis.bpm_confidence or analysis.measured.get("bpm_confidence"),
                          key_confidence=analysis.key_confidence or analysis.measured.get("key_confidence"),
                          status="analyzed")
        name = names.get(key)
        built = 0
        for fmt in claim.formats if name else ():
            assert name  # the loop runs only when the track has a name
            path = layout.output(fmt, name, ctx.manifest.formats[fmt].extension)
            if path.is_file():  # trusted as built from the files there now
                digest = convert_digest(ctx.manifest.formats[fmt].digest, name, claim)
                recipe = ctx.manifest.formats[fmt]
                catalog.record_file(key, fmt, path, convert_inputs(layout, key, digest),
                                    audio_inputs(layout, key, recipe))
                built += 1
        if name and built == len(claim.formats):
            fields["status"] = "built"
        if (catalog.track(key) or {}).get("status") == "failed":
            del fields["status"]  # failed in this run already: keep the reason
        catalog.upsert_track(key, **{k: v for k, v in fields.items() if v is not None})
