"""The doit namespace of a workspace: task creators and DOIT_CONFIG.

Creators gather what exists (snapshots, sidecars, catalog) and hand it to the pure `plan`.
Tracks become known only once their playlist is fetched, and file names only once a track is
downloaded (SoundCloud's flat entries carry no title), so creators are delayed:
fetch → download, analyze → convert → publish.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from doit import create_after

from cratefile import plan
from cratefile.catalog.sqlite import Catalog, Failure
from cratefile.context import RunContext
from cratefile.engine import dispatch
from cratefile.engine.doitdb import StatChecker
from cratefile.engine.fastpath import Planner
from cratefile.layout import Layout
from cratefile.quality import aliases
from cratefile.records import TRACK_STAGES, Claim, Manifest, Snapshot
from cratefile.sinks import SINKS, BuildView
from cratefile.snapshots import read_snapshot
from cratefile.stages import analyze, download, fetch, output
from cratefile.stages.output import RETAGGED

BACKEND_NAME = "cratefile-sqlite"
_Creator = Callable[[], Iterator[dict[str, Any]]]  # a doit task creator
# No "download": doit reaches each track's download through its conversions (every track has
# one per format), track by track, and its dispatcher (engine/dispatch.py) then finishes a track
# before starting another. Asked for by name, the download group still builds alone.
CORE_GROUPS = ("fetch", "convert")
PLANNER = "fastpath-planner"  # RunContext.shared name of the run's Planner

STEPS = plan.Steps(
    fetch=fetch.run_fetch,
    fetch_fresh=fetch.snapshot_fresh,
    download=download.run_download,
    download_current=download.sidecar_current,
    analyze=analyze.run_analyze,
    convert=output.run_convert,
    convert_late=output.run_convert_late,
)


def doit_config(ctx: RunContext, reporter: Any | None = None, workers: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "backend": BACKEND_NAME,
        "dep_file": str(ctx.layout.doit_db),
        "check_file_uptodate": StatChecker,
        "par_type": "thread",
        "num_process": workers or max(2, os.cpu_count() or 2),
        "continue": True,
        "verbosity": 0,
        "default_tasks": [*CORE_GROUPS, *(sink.basename for sink in SINKS.values())],
    }
    if reporter is not None:
        config["reporter"] = reporter
    return config


def current_names(manifest: Manifest, claims: Mapping[str, Claim], catalog: Catalog | None) -> dict[str, str]:
    """File names of the downloaded tracks: from their sidecars, keeping the names files have."""
    layout = Layout(manifest.cache, manifest.library)
    sidecars = {k: s for k in claims if (s := download.read_sidecar(layout, k)) is not None}
    previous = catalog.file_stems() if catalog is not None else {}
    return plan.file_names(manifest, claims, sidecars, previous)


class _Inputs:
    """What the delayed creators read, loaded once per run after the fetch tasks ran."""

    def __init__(self, ctx: RunContext, full: bool) -> None:
        self.ctx = ctx
        self.full = full
        self._snapshots: dict[str, Snapshot | None] | None = None
        self._claims: dict[str, Claim] | None = None
        self._planner: Planner | None = None
        self._built: frozenset[str] | None = None
        self._renamed = False
        self.now = time.time()

    @property
    def snapshots(self) -> dict[str, Snapshot | None]:
        if self._snapshots is None:
            layout = self.ctx.layout
            self._snapshots = {p.slug: read_snapshot(layout.snapshot(p.slug)) for p in self.ctx.manifest.playlists}
        return self._snapshots

    @property
    def claims(self) -> dict[str, Claim]:
        if self._claims is None:
            # an acoustic duplicate publishes its kept track's file (cratefile.quality.aliases)
            self._claims = plan.claims(self.ctx.manifest, self.snapshots, aliases.for_run(self.ctx))
        return self._claims

    def failures(self) -> dict[str, Failure]:
        return self.ctx.catalog.failures() if self.ctx.layout.catalog.exists() else {}

    @property
    def planner(self) -> Planner:
        """Which tracks get tasks (engine/fastpath.py), decided once the snapshots are in."""
        if self._planner is None:
            from cratefile.analysis import ALGO_VERSION

            planner = Planner(self.ctx, STEPS, self.full or self.ctx.catalog_was_missing, ALGO_VERSION,
                              settles=not self.full)
            planner.select(self.claims, self.failures(), self.now)
            self.ctx.ref_inputs.update((k, plan.ref_inputs(c.ref)) for k, c in planner.planned().items())
            self.ctx.shared(PLANNER, lambda: planner)
            self.ctx.sink_stats["fast_path"] = planner.stats()  # in the run's report
            self._planner = planner
        return self._planner

    @property
    def names(self) -> dict[str, str]:
        """Every downloaded track's file name (asked by the sinks, after the convert tasks ran,
        which named the tracks this run downloaded)."""
        if not self._renamed:
            self._renamed = True
            return self.planner.names(refresh=True)
        return self.planner.names()

    def built(self) -> frozenset[str]:
        """Library files that exist now (asked after the convert tasks ran)."""
        if self._built is None:
            self.names  # noqa: B018 - named after the downloads first
            self._built = self.planner.built()
        return self._built

    def view(self) -> BuildView:
        planner = self.planner
        return BuildView(self.ctx, self.snapshots, self.claims, self.names, self.built(), planner.file_sigs,
                         planner.state_sigs)


def runs_tasks(argv: Sequence[str]) -> bool:
    """Whether a doit command line runs tasks (`run`, the default) rather than listing or
    cleaning them: only then are delayed creators left for doit to call when their turn comes."""
    from doit.doit_cmd import DoitMain

    words = [w for w in argv if w.startswith("-") or "=" not in w]  # NAME=VALUE: doit variables
    return not words or words[0] == "run" or words[0] not in {cmd.get_name() for cmd in DoitMain.DOIT_CMDS}


def plans_everything(argv: Sequence[str]) -> bool:
    """Whether a doit command line needs every task: a doit command other than `run`, or task
    names (`cratefile convert:<stem>:wav`), which the fast path cannot know beforehand.
    Parsed with doit's own options, without loading its plugins (entry points cost ~10 ms each)."""
    from doit.cmd_base import DodoTaskLoader, DoitCmdBase
    from doit.cmd_run import Run
    from doit.cmdparse import CmdOption, CmdParse, CmdParseError
    from doit.doit_cmd import DoitMain

    words = [w for w in argv if w.startswith("-") or "=" not in w]  # NAME=VALUE: doit variables
    if words and words[0] in {cmd.get_name() for cmd in DoitMain.DOIT_CMDS}:
        if words[0] != "run":
            return True
        words = words[1:]
    options = (*DoitCmdBase.base_options, *DodoTaskLoader.cmd_options, *Run.cmd_options)
    try:
        _, positional = CmdParse([CmdOption(o) for o in options]).parse(words)
    except CmdParseError:
        return True  # doit itself will say what is wrong
    return bool(positional)


def settle(ctx: RunContext) -> int:
    """At the end of a build: remember the tracks it made as clean (engine/fastpath.py), so the
    next run gives them no task; the number remembered."""
    planner: Planner | None = ctx.shared(PLANNER, lambda: None)
    if planner is None:
        return 0
    ctx.sink_stats["fast_path"]["retagged"] = len(ctx.shared(RETAGGED, list))
    return planner.settle()


def _after(executed: str, creates: Sequence[str] | None = None) -> Callable[[_Creator], _Creator]:
    """doit's `create_after` (which returns the creator it was given), typed: doit has no types.
    `creates`: the basenames the creator yields besides its own."""
    decorate: Callable[[_Creator], _Creator] = create_after(executed=executed, creates=list(creates or ()))
    return decorate


def _sink_creator(inputs: _Inputs, name: str) -> _Creator:
    sink = SINKS[name]

    @_after(sink.after)
    def creator() -> Iterator[dict[str, Any]]:
        config = inputs.ctx.manifest.sink(name)
        if config is not None:
            yield from sink.tasks(inputs.view(), config)

    creator.__doc__ = name  # (its doit group's doc; asking the sink would import it)
    return creator


def make_namespace(ctx: RunContext, reporter: Any | None = None, workers: int | None = None, *,
                   full: bool = False, runs: bool = True) -> dict[str, Any]:
    """The dict doit's ModuleTaskLoader reads (and that dodo.py exposes as its globals).

    `full`: every track gets its tasks (the command line names tasks, or is not a plain run);
    otherwise only those engine/fastpath.py cannot prove clean. `runs`: the doit command runs
    tasks (runs_tasks); `list`, `clean`, ... call every creator at once instead."""
    dispatch.install()
    inputs = _Inputs(ctx, full)
    ctx.manifest.cache.mkdir(parents=True, exist_ok=True)  # doit opens its DB there before any task runs

    def task_fetch() -> Iterator[dict[str, Any]]:
        """Enumerate each playlist's source into its snapshot."""
        yield from plan.fetch_tasks(ctx, STEPS)

    # the names the track creator makes must be known before it runs (sinks wait for "convert");
    # doit's other commands then see only those names, so they call it right away instead
    @_after("fetch", creates=TRACK_STAGES if runs else None)
    def task_download() -> Iterator[dict[str, Any]]:
        """Download each track once, whatever number of playlists list it; then its BPM and key,
        then each requested format, tagged.

        One creator makes all three, so that `analyze:<key>`'s dependency on `download:<key>`
        resolves even when a single task is asked for (`cratefile convert:<key>:wav`), and so
        that a track's conversion starts once its own download and analysis are done (with
        engine/dispatch.py), not once every download of the run is."""
        planner = inputs.planner
        planned, failures = planner.planned(), inputs.failures()
        if ctx.catalog_was_missing and inputs.claims:
            from cratefile.engine.refill import refill_catalog

            refill_catalog(ctx, inputs.snapshots, inputs.claims, planner.names())
            ctx.catalog_was_missing = False
        yield from plan.download_tasks(ctx, STEPS, planned, failures, inputs.now)
        yield from plan.analyze_tasks(ctx, STEPS, planned, failures, inputs.now, planner.algo)
        yield from plan.convert_tasks(ctx, STEPS, planned, planner.known_names(), failures, inputs.now,
                                      planner.name_late)

    creators: dict[str, Callable[..., Any]] = {
        "task_fetch": task_fetch,
        "task_download": task_download,
        **{f"task_{sink.basename}": _sink_creator(inputs, name) for name, sink in SINKS.items()},
    }
    return {**creators, "DOIT_CONFIG": doit_config(ctx, reporter, workers)}
