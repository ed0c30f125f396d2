"""Plan only what is dirty: which tracks could be out of date, decided before any doit Task exists.

doit costs about 0.15 ms and 7 KB per task on a no-op run, so a clean 20,000-track library must
not become 100,000 tasks every hour. A track's core tasks (download, analyze, convert per
format) have no file_dep: doit finds them up to date exactly when their targets exist and
their uptodate callables say so (the source's `current`, engine/freshness.py). So:

- A track is proven *clean* by calling those very checks (`Planner.verify`), and the proof is
  remembered in the catalog (table `clean`) as a stamp: a digest of everything the checks
  read — the recipes of its formats, its analysis options and algorithm version, its tag
  context, the naming rule and the fields its file name comes from, the name itself, and the
  (mtime_ns, size) of its sidecar, source audio, analysis JSON and every output. The catalog
  drops a track's stamp whenever its file rows change or it fails (triggers), so the rows
  output_current compares with cannot change under a stamp.
- Next run, a track whose stamp recomputes the same (a handful of stats, no file read) is
  clean and gets no task at all. Every other track is proven again the same way; what still
  fails the proof is *dirty* and handed to doit with all its tasks, where doit decides per task
  as before. Nothing doit would have run is skipped.
- File names stay those `plan.file_names` gives: a clean track's template stem and name are
  in its stamp (both depend only on what the stamp covers), the others are worked out from
  their sidecars, and `naming.assign_names` makes them unique over the whole library.

A source kind's `current` must depend only on its sidecar and on the audio file it points at
(true of every kind here), and a track's up-to-date checks may read only its files under the
TRACK_STATE folders of cache/ besides its outputs and catalog rows: the stamp covers those.

Full planning (every track dirty, nothing remembered) when the command line names tasks or
runs a doit command other than `run`, and in a run that starts without a catalog (it is
refilled from the files, engine/refill.py). Tracks built in a run are proven at its end
(`settle`), or by the next run when plain `doit` built them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cratefile import plan
from cratefile.atomic import file_sig, read_json
from cratefile.catalog.sqlite import Failure
from cratefile.context import RunContext
from cratefile.freshness import analysis_current, output_matches
from cratefile.naming import (
    FixedFolds,
    assign_around,
    assign_names,
    assign_one,
    fixed_folds,
    fold,
    keeps_name,
    render_name,
)
from cratefile.records import Claim, Sidecar, digest, stem_of
from cratefile.stages.download import audio_path

# Bump when what a stamp covers changes: every track is proven again once.
STAMP_VERSION = 1

Sig = tuple[int, int] | None
# The folders of cache/ holding a JSON per track (<stem>.json) that an up-to-date check reads:
# the sidecar, the analysis, the source's quality record. A stamp covers each one's (mtime_ns, size).
TRACK_STATE = ("audio", "analysis", "quality")




@dataclass
class _Track:
    """What the planner knows of one claimed track."""

    claim: Claim
    group: _Group
    held: bool = False  # a permanent failure still cooling off: no task, as in plan.active
    clean: bool = False
    stamp: tuple[str, str, str, str] | None = None  # (stamp, audio, name, plain) from the catalog
    name: str | None = None
    plain: str | None = None


@dataclass
class _Group:
    """What tracks listed by the same playlists share: formats, recipes, options, tag context."""

    digest: str
    formats: tuple[tuple[str, str], ...]  # (format, extension)
    claim: Claim
    format_names: frozenset[str] = frozenset()


@dataclass
class Planner:
    ctx: RunContext
    steps: plan.Steps  # the download's up-to-date check comes from here, as the tasks' does
    full: bool  # plan every track (task names on the command line, a refilled catalog, ...)
    algo: str
    settles: bool = True  # prove the tracks a run made at its end (not when it ran named tasks)
    tracks: dict[str, _Track] = field(default_factory=dict)
    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # file rows of the unproven
    proven: int = 0  # tracks the selection proved clean (no stamp yet, or a stale one)
    _names: dict[str, str] | None = None
    _groups: dict[tuple[str, ...], _Group] = field(default_factory=dict)
    stale_downloads: set[str] = field(default_factory=set)  # unproven because their download is not current
    _late: dict[str, str] = field(default_factory=dict)  # names given as downloads ended (name_late)
    _taken: dict[str, str] | None = None  # folded name -> key, of every named track (name_late)
    _fixed_memo: tuple[int, dict[str, str], dict[str, str], FixedFolds] | None = None  # _fixed
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # (mtime_ns, size) of the library files of the tracks proven clean by their stamp, as the
    # stamp found them: the sinks' up-to-date checks take them from here instead of a second stat
    file_sigs: dict[str, tuple[int, int]] = field(default_factory=dict)
    # the same of their sidecar and analysis JSON, by track key (BuildView.state_sigs)
    state_sigs: dict[str, tuple[Sig, Sig]] = field(default_factory=dict)

    # -- selection (after the fetch tasks ran) ------------------------------------------------

    def select(self, claims: Mapping[str, Claim], failures: Mapping[str, Failure], now: float) -> None:
        ctx = self.ctx
        catalog = ctx.catalog if ctx.layout.catalog.exists() else None
        stamps = catalog.stamps() if catalog is not None and not self.full else {}
        cool_off = ctx.manifest.retry.cool_off_hours
        lib = str(ctx.layout.library)
        for key, claim in claims.items():
            track = _Track(claim, self._group(claim))
            self.tracks[key] = track
            failure = failures.get(key)
            if failure is not None:
                track.held = plan.held_back(failure, now, cool_off, ctx.retry_failed, plan.ref_inputs(claim.ref))
                continue
            stamp = stamps.get(key)
            if stamp is None:
                continue
            found, states, outputs = self._stamp_and_outputs(key, track, stamp[1], stamp[2], stamp[3], lib)
            if found == stamp[0]:
                track.clean, track.stamp, track.name, track.plain = True, stamp, stamp[2], stamp[3]
                for path, sig in outputs:
                    if sig is not None:
                        self.file_sigs[path] = sig
                self.state_sigs[key] = states[0][1], states[1][1]  # TRACK_STATE: audio, analysis
        unproven = [k for k, t in self.tracks.items() if not t.clean]
        if catalog is not None and unproven:
            self.rows = catalog.file_records(unproven)
        # the ones that run share these rows with output_current (ctx.file_records), read once
        if not self.full:
            ctx.shared("file-records", lambda: self.rows)
        if not self.full and unproven:
            self.proven = self.verify([k for k in unproven if not self.tracks[k].held], self.names(refresh=True))

    def stats(self) -> dict[str, int]:
        """For the run's report: tracks claimed, handed to doit, proven clean by this selection."""
        return {"tracks": len(self.tracks), "planned": sum(1 for t in self.tracks.values() if not (t.clean or t.held)),
                "proven": self.proven}

    def planned(self) -> dict[str, Claim]:
        """The claims doit gets tasks for: not proven clean (held-back ones are left out by plan.active)."""
        return {k: t.claim for k, t in self.tracks.items() if not t.clean}

    # -- names (after the download tasks ran) -------------------------------------------------

    def names(self, refresh: bool = False) -> dict[str, str]:
        """File stems of every downloaded track, as plan.file_names gives them. `refresh`: work
        them out again, as downloads of this run may have renamed tracks (none did when doit got
        no track's tasks)."""
        if self._names is not None and (not refresh or not any(not t.clean and not t.held
                                                               for t in self.tracks.values())):
            return self._names
        if not self.rows and not self._late and all(t.clean for t in self.tracks.values()):
            # what assign_names gives when every track is settled on a name no other holds
            names = {k: t.name for k, t in self.tracks.items() if t.name is not None}
            if len({fold(n) for n in names.values()}) == len(names) == len(self.tracks):
                self._names = names
                return names
        manifest = self.ctx.manifest
        layout = self.ctx.layout
        # the clean tracks: settled on their names (their stamps say); the same until one more is proven
        fixed, fixed_plain, folds = self._fixed()
        wanted: dict[str, str] = {}
        previous: dict[str, str] = {}
        for key, track in self.tracks.items():
            if track.clean:
                continue
            sidecar = Sidecar.from_json(read_json(layout.sidecar(key)))
            if sidecar is None:
                continue
            track.plain = wanted[key] = _plain(manifest.naming, sidecar, track.claim, key)
        for (key, _fmt), row in sorted(self.rows.items()):
            if key not in fixed:
                previous.setdefault(key, Path(row["path"]).stem)  # as Catalog.file_stems
        previous.update((k, n) for k, n in self._late.items() if k not in fixed)  # names given as it went
        max_bytes = manifest.naming.max_length
        # the few tracks that are not clean named around the others (what assign_names gives them)
        around = assign_around(wanted, previous, fixed, fixed_plain, max_bytes=max_bytes, folds=folds)
        if around is not None:
            self._names = {k: n for k in self.tracks if (n := fixed.get(k) or around.get(k)) is not None}
            changed: Mapping[str, str] = around
        else:
            every = {k: fixed_plain[k] if k in fixed_plain else wanted[k] for k in self.tracks
                     if k in fixed_plain or k in wanted}
            self._names = changed = assign_names(every, {**fixed, **previous}, max_bytes=max_bytes, settled=fixed)
        for key, name in changed.items():
            self.tracks[key].name = name
        return self._names

    def _fixed(self) -> tuple[dict[str, str], dict[str, str], FixedFolds]:
        """The clean tracks' names and template stems, and naming.fixed_folds of them: worked
        out again only when a track was proven clean since (the set only grows in a run)."""
        clean = sum(1 for t in self.tracks.values() if t.clean)
        if self._fixed_memo is None or self._fixed_memo[0] != clean:
            fixed: dict[str, str] = {}
            fixed_plain: dict[str, str] = {}
            for key, track in self.tracks.items():
                if track.clean:
                    assert track.plain is not None and track.name is not None
                    fixed[key], fixed_plain[key] = track.name, track.plain
            self._fixed_memo = (clean, fixed, fixed_plain, fixed_folds(fixed, fixed_plain))
        return self._fixed_memo[1:]

    def known_names(self) -> dict[str, str]:
        """The names that can be given before any download of this run: those of the downloaded
        tracks whose download stays as it is (a track downloaded again may get a new title)."""
        return {k: n for k, n in self.names().items() if k not in self.stale_downloads}

    def name_late(self, key: str) -> str:
        """The file stem of a track downloaded in this run, given when its first conversion
        starts (so its files appear as it finishes, not once every download ended): its
        template's stem, unique among the names every other track holds (naming.assign_one).
        Called from the convert tasks' threads; the same name for each format of a track."""
        with self._lock:
            name = self._late.get(key)
            if name is not None:
                return name
            if self._taken is None:
                self._taken = {fold(n): k for k, n in self.names().items() if k not in self.stale_downloads}
            track = self.tracks[key]
            sidecar = Sidecar.from_json(read_json(self.ctx.layout.sidecar(key)))
            if sidecar is None:
                raise LookupError(f"{key}: no download to name")
            naming = self.ctx.manifest.naming
            track.plain = _plain(naming, sidecar, track.claim, key)
            name = assign_one(key, track.plain, self._taken, max_bytes=naming.max_length)
            self._taken[fold(name)] = key
            self._late[key] = track.name = name
            return name

    def built(self) -> frozenset[str]:
        """Library files that exist now (asked after the convert tasks ran)."""
        lib = str(self.ctx.layout.library)
        found = []
        for key, name in self.names().items():
            track = self.tracks[key]
            paths = _outputs(lib, name, track.group.formats)
            found += paths if track.clean else [p for p in paths if os.path.isfile(p)]
        return frozenset(found)

    def proven_formats(self) -> dict[str, frozenset[str]]:
        """{key: its formats} of the tracks proven clean in this run (by their stamp, or checked
        by `verify`): each format's library file was found in place, recorded as the catalog says."""
        return {key: track.group.format_names for key, track in self.tracks.items()
                if track.clean and track.name is not None}

    # -- proofs ---------------------------------------------------------------------------

    def verify(self, keys: Collection[str], names: Mapping[str, str]) -> int:
        """Prove `keys` clean with the checks doit would make, and stamp those that pass; the
        number proven. A track is stamped only if its name would stay its own without it."""
        ctx = self.ctx
        layout = ctx.layout
        lib = str(layout.library)
        max_bytes = ctx.manifest.naming.max_length
        previous: dict[str, str] = {}
        for (key, _fmt), row in sorted(self.rows.items()):
            previous.setdefault(key, Path(row["path"]).stem)
        proven: list[tuple[str, str, str, str, str]] = []
        for key in keys:
            track = self.tracks[key]
            name = names.get(key)
            if name is None or track.plain is None or track.held:
                continue
            if previous.get(key) != name or not keeps_name(key, track.plain, name, max_bytes):
                continue
            sidecar = Sidecar.from_json(read_json(layout.sidecar(key)))
            if sidecar is None:
                continue
            audio = str(audio_path(layout, sidecar))
            stamp = self._stamp(key, track, audio, name, track.plain, lib)  # before the checks: a change
            if self._proves(key, track, sidecar, name, lib):                # during them shows next run
                track.clean, track.name = True, name
                track.stamp = (stamp, audio, name, track.plain)
                proven.append((key, *track.stamp))
        if proven:
            ctx.catalog.set_stamps(proven)
        return len(proven)

    def settle(self) -> int:
        """At the end of a run: prove the tracks the run had planned, so the next one skips them."""
        if not self.settles:
            return 0
        keys = [k for k, t in self.tracks.items() if not t.clean and not t.held]
        if not keys:
            return 0
        self.rows = self.ctx.catalog.file_records(keys)
        self._names = None
        return self.verify(keys, self.names())

    def _proves(self, key: str, track: _Track, sidecar: Sidecar, name: str, lib: str) -> bool:
        ctx, layout, claim = self.ctx, self.ctx.layout, track.claim
        if not self.steps.download_current(ctx, key, claim.kind):
            self.stale_downloads.add(key)
            return False
        options = claim.playlists[0].analysis
        if not analysis_current(ctx, key, options, self.algo):
            return False
        for (fmt, _ext), dst in zip(track.group.formats, _outputs(lib, name, track.group.formats), strict=True):
            recipe_digest = plan.convert_digest(ctx.manifest.formats[fmt].digest, name, claim)
            if not output_matches(layout, self.rows.get((key, fmt)), key, dst, recipe_digest):
                return False
        return True

    def _stamp(self, key: str, track: _Track, audio: str, name: str, plain: str, lib: str) -> str:
        return self._stamp_and_outputs(key, track, audio, name, plain, lib)[0]

    def _stamp_and_outputs(self, key: str, track: _Track, audio: str, name: str, plain: str,
                           lib: str) -> tuple[str, list[tuple[str, Sig]], list[tuple[str, Sig]]]:
        """The stamp; the track's cache JSON (TRACK_STATE) and its library files, each with the
        (mtime_ns, size) the stamp covers it at."""
        stem = stem_of(key)
        audio_sig = self._seen.get(audio) or file_sig(audio)
        states = [(path, file_sig(path)) for path in [f"{folder}{stem}.json" for folder in self._state_folders]]
        outputs = [(path, file_sig(path)) for path in [f"{lib}/{fmt}/{name}.{ext}" for fmt, ext in track.group.formats]]
        sigs = [audio_sig, *[sig for _, sig in states], *[sig for _, sig in outputs]]  # _outputs
        ref = track.claim.ref
        blob = repr((track.group.digest, key, ref.title, ref.artist, audio, name, plain, sigs))
        return hashlib.blake2b(blob.encode(), digest_size=12).hexdigest(), states, outputs

    @functools.cached_property
    def _seen(self) -> dict[str, tuple[int, int]]:
        return self.ctx.seen_files()

    @functools.cached_property
    def _state_folders(self) -> tuple[str, ...]:
        """'<cache>/<folder>/' of each TRACK_STATE folder."""
        cache = str(self.ctx.layout.cache)
        return tuple(f"{cache}/{folder}/" for folder in TRACK_STATE)

    def _group(self, claim: Claim) -> _Group:
        slugs = tuple(p.slug for p in claim.playlists)
        group = self._groups.get(slugs)
        if group is None:
            manifest = self.ctx.manifest
            formats = tuple((f, manifest.formats[f].extension) for f in claim.formats)
            first = claim.playlists[0]
            facts = [STAMP_VERSION, plan.TAGS_VERSION, self.algo, asdict(manifest.naming), str(manifest.library),
                     str(manifest.cache), claim.kind, first.name, first.analysis.digest, plan.tag_context(claim),
                     [(f, e, manifest.formats[f].digest) for f, e in formats]]
            group = self._groups[slugs] = _Group(digest(facts), formats, claim, frozenset(f for f, _ in formats))
        return group


def _outputs(lib: str, name: str, formats: tuple[tuple[str, str], ...]) -> list[str]:
    """The library files of a track named `name` (as str(Layout.output(...)))."""
    return [f"{lib}/{fmt}/{name}.{ext}" for fmt, ext in formats]


def _plain(rule: Any, sidecar: Sidecar, claim: Claim, key: str) -> str:
    """The stem the naming template gives a track (plan.file_names' fields)."""
    fields = {
        "artist": sidecar.artist or claim.ref.artist or "",
        "title": sidecar.title or claim.ref.title or "",
        "playlist": claim.playlists[0].name,
        "id": key.split(" ", 1)[-1],
    }
    return render_name(rule, fields)

