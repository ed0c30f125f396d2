"""Preflight: what must hold before any work starts, and what a run would do.

`checks(manifest)` — ffmpeg present and working, library and cache folders writable, free
space on their volumes against an estimate of this run's output — runs at the start of every
build (a failed check stops the run before anything is touched: exit 74) and, with each
configured sink's and source kind's own `check` (credentials, database schemas: these cost
requests, so only on demand), as `cratefile check`.

`estimate(manifest)` is what `cratefile --dry-run` prints: per playlist, how many tracks each
stage would build, from the snapshots and the files there now, with a disk and time estimate.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cratefile.catalog.sqlite import Catalog
from cratefile.errors import CratefileError, ToolError
from cratefile.layout import Layout
from cratefile.records import FormatRecipe, Manifest, Playlist, TrackRef, stem_of
from cratefile.snapshots import read_snapshot

DEFAULT_SECONDS = 360.0  # a track whose duration nobody knows yet: a six-minute club track
DOWNLOAD_BYTES_PER_S = 320_000 / 8  # a 320k source, about what SoundCloud's originals weigh
# rough per-track costs on a 2-core machine, for the time estimate only
SECONDS_PER_DOWNLOAD = 4.0
ANALYSIS_S_PER_AUDIO_S = 0.02
CONVERT_S_PER_AUDIO_S = 0.01
MARGIN = 1.1


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def bytes_per_second(recipe: FormatRecipe) -> float:
    """What one second of audio costs in a format (PCM from its sample layout; else its bitrate)."""
    if recipe.bitrate:
        text = recipe.bitrate.lower().rstrip("k")
        with contextlib.suppress(ValueError):
            return float(text) * 1000 / 8 if recipe.bitrate.lower().endswith("k") else float(text) / 8
    rate = recipe.sample_rate or 44100
    channels = recipe.channels or 2
    width = 3 if "24" in recipe.codec else 4 if "32" in recipe.codec or "f32" in recipe.codec else 2
    if recipe.codec in ("flac", "alac"):
        return rate * channels * width * 0.6  # lossless compression, roughly
    return float(rate * channels * width)


@dataclass
class PlaylistPlan:
    name: str
    fetched: bool
    tracks: int = 0
    download: int = 0
    analyze: int = 0
    convert: dict[str, int] = field(default_factory=dict)
    library_bytes: float = 0.0
    cache_bytes: float = 0.0
    seconds: float = 0.0


def estimate(manifest: Manifest, *, quick: bool = False) -> list[PlaylistPlan]:
    """What a build would do now, per playlist (a track shared by playlists counts once, in the
    first). Reads snapshots, sidecars and the catalog's file rows; changes nothing.

    `quick` (the check at the start of every build): only tracks not downloaded yet count, from
    one stat per track, so a clean library costs no JSON read."""
    from cratefile.stages.download import read_sidecar

    layout = Layout(manifest.cache, manifest.library)
    built: set[tuple[str, str]] = set()
    if layout.catalog.exists() and not quick:
        catalog = Catalog(layout.catalog)
        try:
            built = {k for k, path in catalog.file_paths().items() if os.path.exists(path)}
        finally:
            catalog.close()
    seen: set[str] = set()
    # quick: one listing of cache/audio instead of a stat per track
    downloaded = _names(layout.audio) if quick else frozenset()
    plans = []
    for playlist in manifest.playlists:
        snap = read_snapshot(layout.snapshot(playlist.slug))
        refs = snap.tracks if snap else ()
        if snap is None and playlist.source.kind == "folder" and not quick:
            refs = _list_folder(manifest, playlist)  # local and cheap: list it now
        plan = PlaylistPlan(playlist.name, fetched=snap is not None or bool(refs))
        for ref in refs:
            plan.tracks += 1
            if ref.key in seen:
                continue
            seen.add(ref.key)
            if quick and f"{stem_of(ref.key)}.json" in downloaded:  # layout.sidecar(key).name
                continue
            sidecar = None if quick else read_sidecar(layout, ref.key)
            seconds = (sidecar.duration if sidecar else None) or ref.duration or DEFAULT_SECONDS
            if sidecar is None:
                plan.download += 1
                plan.cache_bytes += seconds * DOWNLOAD_BYTES_PER_S
                plan.seconds += SECONDS_PER_DOWNLOAD
            if sidecar is None or not layout.analysis(ref.key).exists():
                plan.analyze += 1
                plan.seconds += seconds * ANALYSIS_S_PER_AUDIO_S
            for fmt in playlist.formats:
                if (ref.key, fmt) not in built:
                    plan.convert[fmt] = plan.convert.get(fmt, 0) + 1
                    plan.library_bytes += seconds * bytes_per_second(manifest.formats[fmt])
                    plan.seconds += seconds * CONVERT_S_PER_AUDIO_S
        plans.append(plan)
    return plans


def _names(folder: Path) -> frozenset[str]:
    try:
        with os.scandir(folder) as found:
            return frozenset(e.name for e in found)
    except OSError:
        return frozenset()


def _list_folder(manifest: Manifest, playlist: Playlist) -> tuple[TrackRef, ...]:
    from cratefile.context import RunContext
    from cratefile.sources import SOURCES

    try:
        return SOURCES["folder"].enumerate(RunContext(manifest), playlist).refs
    except CratefileError:
        return ()


def _writable(folder: Path) -> Check:
    name = f"{folder} writable"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".cratefile-check-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        from cratefile.environment import environment_problem

        return Check(name, False, environment_problem(exc) or f"cannot write in {folder}: {exc.strerror}")
    return Check(name, True, "ok")


def _volume(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _space(label: str, folder: Path, needed: float) -> Check:
    try:
        free = shutil.disk_usage(_volume(folder)).free
    except OSError as exc:
        return Check(f"free space for the {label}", False, f"cannot tell the free space of {folder}: {exc}")
    want = needed * MARGIN
    detail = f"{_size(free)} free, this run needs about {_size(want)}"
    if free < want:
        return Check(f"free space for the {label}", False,
                     f"the {label} volume ({_volume(folder)}) is too small for this run: {detail}; "
                     f"free ~{_size(want - free)} more, then run again")
    return Check(f"free space for the {label}", True, detail)


def _ffmpeg() -> Check:
    from cratefile import proc

    try:
        exe = proc.ffmpeg_exe()
        proc.run([exe, "-hide_banner", "-version"], timeout=30)
    except (CratefileError, ToolError) as exc:
        from cratefile.environment import environment_problem

        return Check("ffmpeg", False, environment_problem(exc) or str(exc))
    return Check("ffmpeg", True, exe)


def checks(manifest: Manifest, plans: list[PlaylistPlan] | None = None) -> list[Check]:
    """The checks every build runs first (cheap, no network)."""
    layout = Layout(manifest.cache, manifest.library)
    plans = estimate(manifest, quick=True) if plans is None else plans
    out = [_ffmpeg(), _writable(layout.library), _writable(layout.cache)]
    library_bytes = sum(p.library_bytes for p in plans)
    cache_bytes = sum(p.cache_bytes for p in plans)
    same_volume = _same_volume(layout.library, layout.cache)
    if same_volume:
        out.append(_space("library and cache", layout.library, library_bytes + cache_bytes))
    else:
        out += [_space("library", layout.library, library_bytes), _space("cache", layout.cache, cache_bytes)]
    return out


def _same_volume(a: Path, b: Path) -> bool:
    try:
        return os.stat(_volume(a)).st_dev == os.stat(_volume(b)).st_dev
    except OSError:
        return False


def _chromaprint() -> Iterator[Check]:
    """Acoustic duplicates need ffmpeg's chromaprint muxer (cratefile.quality); a build without
    it goes on and says so once. Nothing when ffmpeg itself cannot run (its own check says it)."""
    from cratefile import proc
    from cratefile.quality import fingerprint

    try:
        exe = proc.ffmpeg_exe()
        proc.run([exe, "-hide_banner", "-version"], timeout=30)
    except (CratefileError, ToolError):
        return
    if fingerprint.chromaprint_available(exe):
        yield Check("fingerprints", True, "ffmpeg has the chromaprint muxer")
    else:
        yield Check("fingerprints", False, fingerprint.missing_message(exe))


def service_checks(manifest: Manifest) -> Iterator[Check]:
    """Each configured sink's and source kind's own check (credentials, schemas: requests),
    and whether acoustic duplicates can be found (only `cratefile check` asks)."""
    from cratefile.sinks import SINKS
    from cratefile.sources import SOURCES

    yield from _chromaprint()

    for name, sink in SINKS.items():
        config = manifest.sink(name)
        check = getattr(sink, "check", None)
        if config is not None and check is not None:
            yield _service(name, lambda c=check, cfg=config: c(manifest, cfg))
    for kind, source in SOURCES.items():
        settings = manifest.settings(kind)
        check = getattr(source, "check", None)
        if settings is not None and check is not None:
            yield _service(kind, lambda c=check, s=settings: c(manifest, s))


def _service(name: str, call: object) -> Check:
    try:
        detail = call()  # type: ignore[operator]
    except CratefileError as exc:
        return Check(name, False, str(exc))
    return Check(name, True, str(detail or "ok"))


def render_checks(results: list[Check]) -> list[str]:
    return [f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in results]


def render_plan(plans: list[PlaylistPlan]) -> list[str]:
    lines = []
    for p in plans:
        if not p.fetched:
            lines.append(f"{p.name}: not fetched yet (its source is read first; sizes unknown)")
            continue
        convert = ", ".join(f"{n} {fmt}" for fmt, n in p.convert.items()) or "nothing"
        lines.append(f"{p.name}: {p.tracks} tracks; download {p.download}, analyze {p.analyze}, "
                     f"convert {convert}; about {p.library_bytes / 1e6:.0f} MB in the library, "
                     f"{p.cache_bytes / 1e6:.0f} MB of downloads, {p.seconds / 60:.1f} min")
    total_s = sum(p.seconds for p in plans)
    total_b = sum(p.library_bytes + p.cache_bytes for p in plans)
    lines.append(f"in all: about {total_b / 1e6:.0f} MB and {total_s / 60:.1f} min of work (dry run: nothing changed)")
    return lines
