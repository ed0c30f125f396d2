"""What a run shows while it works, and what it remembers for the run report.

On a terminal: a progress bar (rich) of tracks done out of all tracks, tasks done/known, an ETA
and what the tracks are doing now (`downloading 2, analyzing 1, converting 3`); failures are
printed as lines above it. Elsewhere (cron, CI, a pipe): one plain line per task that ran or
failed, a `progress: 12/40 tracks, ETA 3m10s` line at most every `interval` seconds, and one at
the end.

How many tracks: doit knows a delayed creator's tasks only once that creator ran, so the total
comes from `expected_tracks` (the number of tracks in the playlists' snapshots), asked once,
lazily, when the first task after the fetch tasks shows up. A track is done when all its tasks
settled (succeeded, failed or were up to date). When doit hands over its task table
(`initialize`), the reporter also sees tasks before they are dispatched, and knows which stages
of `stages` (download, analyze, convert) are still to be created: a track waiting for its convert
tasks is not done yet, and a track of the snapshots that got no task at all once the download
creator ran (held back after a failure) has nothing left to do in this run.

ETA: the mean measured duration of each stage's tasks × the tasks of that stage still to do
(known ones, those of the tracks not seen yet, one per track for a stage not created yet) /
the parallel workers (`workers`, else the most tasks seen running at once), and never less than
the longest chain of stages one track still has. `ETA --` while none of the remaining work has
been measured; `ETA >3m10s` while part of it has not (a lower bound).
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from doit.exceptions import BaseFail

from cratefile.records import task_track_stem

log = logging.getLogger(__name__)

TRACK_STAGES = ("download", "analyze", "convert", "eagle")  # task basenames that belong to one track
PIPELINE = ("download", "analyze", "convert")  # what every track goes through, in this order
_ORDER = ("fetch", *TRACK_STAGES, "publish", "rekordbox", "notion")
_VERBS = {"fetch": "fetching", "download": "downloading", "analyze": "analyzing", "convert": "converting",
          "eagle": "importing into Eagle", "publish": "publishing", "rekordbox": "writing Rekordbox XML",
          "notion": "syncing Notion"}
_OPEN, _RUNNING, _SETTLED = "open", "running", "settled"
_OVERRUN = 0.1  # a task running longer than its stage's mean is taken as this fraction of a mean from done


@dataclass(frozen=True)
class Progress:
    """What the display shows at one moment."""

    tracks_done: int
    tracks_total: int | None  # None: not known yet (the fetch tasks still run)
    tasks_done: int
    tasks_total: int
    eta: float | None  # seconds; None: nothing of what remains has been measured yet
    eta_lower_bound: bool  # part of the remaining work is of a stage not measured yet
    stages: tuple[tuple[str, int], ...]  # ('downloading', tracks downloading now), in pipeline order
    elapsed: float
    failed_tracks: int
    finished: bool

    @property
    def tracks_text(self) -> str:
        return f"{self.tracks_done}/{'?' if self.tracks_total is None else self.tracks_total} tracks"

    @property
    def eta_text(self) -> str:
        if self.eta is None:
            return "ETA --"
        # rounded up: work that remains never reads as 0m00s
        return f"ETA {'>' if self.eta_lower_bound else ''}{_fmt_seconds(max(math.ceil(self.eta), 1))}"

    @property
    def stages_text(self) -> str:
        return ", ".join(f"{verb} {n}" for verb, n in self.stages)

    def line(self) -> str:
        """The plain `progress:` line."""
        tracks = self.tracks_text + (f" ({self.failed_tracks} failed)" if self.failed_tracks else "")
        if self.finished:
            return f"progress: {tracks}, finished in {_fmt_seconds(self.elapsed)}"
        doing = f" ({self.stages_text})" if self.stages else ""
        return f"progress: {tracks}, {self.eta_text}{doing}"

    def status(self) -> str:
        """The text next to the terminal's bar."""
        parts = [self.tracks_text, f"{self.tasks_done}/{self.tasks_total} tasks"]
        if self.failed_tracks:
            parts.append(f"{self.failed_tracks} failed")
        parts.append(f"finished in {_fmt_seconds(self.elapsed)}" if self.finished else self.eta_text)
        if self.stages and not self.finished:
            parts.append(self.stages_text)
        return "  ".join(parts)


class CrateReporter:
    desc = "cratefile progress"

    def __init__(self, outstream: IO[str] | None = None, options: dict[str, Any] | None = None,
                 tty: bool | None = None, *, expected_tracks: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic, workers: int | None = None,
                 stages: Sequence[str] = PIPELINE, interval: float = 10.0, console: Any | None = None) -> None:
        self.out = outstream or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.executed: list[str] = []
        self.succeeded: list[str] = []
        self.failures: dict[str, str] = {}
        self.errors: list[str] = []
        self.seen: set[str] = set()  # tasks with actions doit looked at
        self.uptodate = 0
        self._expected_tracks = expected_tracks
        self._expected: int | None = None
        self._asked = False
        self._clock = clock
        self._t0 = clock()
        self._workers = workers
        self._pipeline = tuple(stages)
        self._interval = interval
        self._last_line = self._t0
        self._console = console
        self._lock = threading.RLock()
        self._finished = False
        self._skipped = 0  # tasks not run because an earlier step of their track failed
        self._known: set[str] = set()  # every task with actions, dispatched or only in doit's table
        self._tracks: dict[str, dict[str, str]] = {}  # stem -> its task names -> open/running/settled
        self._unsettled: dict[str, int] = {}  # stem -> its tasks not settled yet
        self._settled_tracks = 0
        self._failed_stems: set[str] = set()
        self._open_units: dict[str, int] = {}  # stage -> its track tasks neither running nor settled
        self._stage_stems: dict[str, set[str]] = {}  # stage -> tracks with a task of it
        self._stage_tasks: dict[str, int] = {}  # stage -> its track tasks
        self._running: dict[str, float] = {}  # task name -> when it started
        self._peak = 0
        self._measured: dict[str, list[float]] = {}  # stage -> [seconds, tasks]
        self._table: Mapping[str, Any] | None = None
        self._table_len = -1
        self._anticipated: tuple[str, ...] = ()  # pipeline stages whose creator did not run yet
        self._unseen_done = False  # tracks without tasks have nothing to do in this run
        self._bar: Any = None
        self._bar_task: Any = None

    @staticmethod
    def tracks_in_snapshots(paths: Iterable[Path]) -> int:
        """The number of distinct track keys across these playlist snapshots (missing ones: none)."""
        from cratefile.snapshots import read_snapshot

        keys: set[str] = set()
        for path in paths:
            snap = read_snapshot(path)
            if snap is not None:
                keys.update(t.key for t in snap.tracks)
        return len(keys)

    # doit's reporter interface -------------------------------------------------------------
    def initialize(self, tasks: Any, selected_tasks: Any) -> None:
        if isinstance(tasks, Mapping):
            self._table = tasks  # doit adds a delayed creator's tasks to this very dict
            self._sync_table()

    def get_status(self, task: Any) -> None:
        if not task.actions:
            return
        with self._lock:
            self.seen.add(task.name)
            self._know(task.name)
        self._sync_table()
        if _basename(task.name) != "fetch":
            self._ask_expected()

    def execute_task(self, task: Any) -> None:
        if not task.actions:
            return
        with self._lock:
            self._know(task.name)
            self._state(task.name, _RUNNING)
            self._running[task.name] = self._clock()
            self._peak = max(self._peak, len(self._running))
        self._show(refresh=False)

    def add_success(self, task: Any) -> None:
        if not task.actions:
            return
        self._finish(task.name)
        self.succeeded.append(task.name)
        if not self.tty:
            self._line(f"done    {task.name}")
        self._show(refresh=True)

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        if not task.actions:
            return
        message = fail.get_msg().strip().splitlines()
        text = message[-1] if message else type(fail).__name__
        stem = _stem(task.name)
        if type(fail).__name__ == "UnmetDependency":
            # the failure of the earlier step was already said; this one is only its consequence
            self.failures[task.name] = "skipped: an earlier step of this track failed"
            with self._lock:
                self._skipped += 1
                if stem:
                    self._failed_stems.add(stem)
                self._know(task.name)
                self._state(task.name, _SETTLED)
            self._show(refresh=False)
            return
        with self._lock:
            if stem:
                self._failed_stems.add(stem)
        self._finish(task.name)
        if text not in self.failures.values():  # one line for a cause shared by many tasks
            self._line(f"FAILED  {task.name}: {text}")
        self.failures[task.name] = text
        self._show(refresh=True)

    def skip_uptodate(self, task: Any) -> None:
        if not task.actions:
            return
        with self._lock:
            self.uptodate += 1
            self._know(task.name)
            self._state(task.name, _SETTLED)
        self._show(refresh=False)

    def skip_ignore(self, task: Any) -> None:
        pass

    def cleanup_error(self, exception: Exception) -> None:
        self.errors.append(str(exception))

    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)
        self._line(f"ERROR   {msg}")

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        with self._lock:
            self._finished = True
            self._anticipated = ()
            self._unseen_done = True
        if self.tty:
            if self._bar is None:
                self._start_bar()
            self._update_bar(refresh=True)
            self._bar.stop()
        else:
            self._line(self.progress().line())

    # what is shown -------------------------------------------------------------------------
    def progress(self) -> Progress:
        """Tracks done, tasks done, the ETA and the stages at this moment (cheap: no scan of tracks)."""
        with self._lock:
            now = self._clock()
            known = len(self._tracks)
            if self._expected is None and not known:
                total: int | None = None
            else:
                total = max(self._expected or 0, known)
            unseen = (total or 0) - known
            failed_settled = sum(1 for s in self._failed_stems if not self._unsettled.get(s))
            done = failed_settled if self._anticipated else self._settled_tracks
            if self._unseen_done:
                done += unseen
            eta, lower = self._eta(now, 0 if self._unseen_done else unseen)
            return Progress(
                tracks_done=done, tracks_total=total,
                tasks_done=len(self.executed) + self.uptodate + self._skipped,
                tasks_total=len(self._known), eta=None if self._finished else eta, eta_lower_bound=lower,
                stages=self._stages_now(), elapsed=now - self._t0, failed_tracks=len(self._failed_stems),
                finished=self._finished)

    def _eta(self, now: float, unseen: int) -> tuple[float | None, bool]:
        means = {stage: secs / n for stage, (secs, n) in self._measured.items() if n}
        work = 0.0
        longest: dict[str, float] = {}  # stage -> the longest one task of it still needs
        unmeasured = False

        def add(stage: str, units: float, each: float | None = None) -> None:
            nonlocal work, unmeasured
            if units <= 0:
                return
            mean = means.get(stage)
            if mean is None:
                unmeasured = True
                return
            each = mean if each is None else each
            work += units * each
            longest[stage] = max(longest.get(stage, 0.0), each)

        for stage, n in self._open_units.items():
            add(stage, n)
        for name, started in self._running.items():
            stage = _basename(name)
            if _stem(name) and stage in means:
                add(stage, 1, max(means[stage] - (now - started), _OVERRUN * means[stage]))
            elif _stem(name):
                unmeasured = True
        live = len(self._tracks) - len(self._failed_stems)
        for stage in self._anticipated:
            add(stage, live + unseen)  # one task each: how many a stage not created yet has is unknown
        if unseen:
            for stage in _ORDER:
                stems = self._stage_stems.get(stage)
                if stems and stage not in self._anticipated:
                    add(stage, unseen * self._stage_tasks[stage] / len(stems))
        if work <= 0:
            return None, False
        workers = self._workers or max(self._peak, 1)
        return max(work / workers, sum(longest.values())), unmeasured

    def _stages_now(self) -> tuple[tuple[str, int], ...]:
        tracks: dict[str, set[str]] = {}
        others: dict[str, int] = {}
        for name in self._running:
            stage, stem = _basename(name), _stem(name)
            if stem:
                tracks.setdefault(stage, set()).add(stem)
            else:
                others[stage] = others.get(stage, 0) + 1
        counts = {**others, **{stage: len(stems) for stage, stems in tracks.items()}}
        ordered = [s for s in _ORDER if s in counts] + sorted(s for s in counts if s not in _ORDER)
        return tuple((_VERBS.get(s, s), counts[s]) for s in ordered)

    # bookkeeping ---------------------------------------------------------------------------
    def _know(self, name: str) -> None:
        """Count a task with actions (under the lock); a track's task starts open."""
        self._known.add(name)
        stem = _stem(name)
        if stem is None:
            return
        tasks = self._tracks.setdefault(stem, {})
        if name in tasks:
            return
        tasks[name] = _OPEN
        unsettled = self._unsettled.get(stem)
        if unsettled == 0:
            self._settled_tracks -= 1  # a settled track got a new task (its convert tasks came)
        self._unsettled[stem] = (unsettled or 0) + 1
        stage = _basename(name)
        self._open_units[stage] = self._open_units.get(stage, 0) + 1
        self._stage_stems.setdefault(stage, set()).add(stem)
        self._stage_tasks[stage] = self._stage_tasks.get(stage, 0) + 1

    def _state(self, name: str, new: str) -> None:
        stem = _stem(name)
        if stem is None:
            return
        tasks = self._tracks[stem]
        old = tasks[name]
        if old == _SETTLED or old == new:
            return
        if old == _OPEN:
            self._open_units[_basename(name)] -= 1
        tasks[name] = new
        if new == _SETTLED:
            self._unsettled[stem] -= 1
            if self._unsettled[stem] == 0:
                self._settled_tracks += 1

    def _finish(self, name: str) -> None:
        with self._lock:
            self._know(name)
            self._state(name, _SETTLED)
            self.executed.append(name)
            start = self._running.pop(name, None)
            if start is not None:
                measured = self._measured.setdefault(_basename(name), [0.0, 0])
                measured[0] += self._clock() - start
                measured[1] += 1

    def _sync_table(self) -> None:
        """Take in the tasks doit's table gained (a delayed creator ran) and which stages are to come."""
        table = self._table
        if table is None:
            return
        with self._lock:
            if len(table) != self._table_len:
                self._table_len = len(table)
                for name, task in list(table.items()):
                    if _stem(name) and getattr(task, "actions", None):
                        self._know(name)
            anticipated: tuple[str, ...] = ()
            for i, stage in enumerate(self._pipeline):
                loader = getattr(table.get(stage), "loader", None)
                if loader and not getattr(loader, "created", True):  # its creator did not run yet
                    anticipated = tuple(s for s in self._pipeline[i:] if not self._stage_stems.get(s))
                    break
            self._anticipated = anticipated
            first = self._pipeline[0] if self._pipeline else None
            self._unseen_done = bool(first and first in table and first not in anticipated)
            any_track = bool(self._tracks)
        if any_track:
            self._ask_expected()

    def _ask_expected(self) -> None:
        if self._asked or self._expected_tracks is None:
            return
        self._asked = True
        try:
            expected = int(self._expected_tracks())
        except Exception:  # the display must not end a build; the total is then the tracks seen
            log.warning("could not count the playlists' tracks for the progress display", exc_info=True)
            return
        with self._lock:
            self._expected = expected

    # output --------------------------------------------------------------------------------
    def _show(self, refresh: bool) -> None:
        """After an event: redraw the bar (a task ran) or, off a terminal, the periodic line."""
        self._sync_table()
        if self.tty:
            self._update_bar(refresh)
            return
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._line(self.progress().line())

    def _line(self, text: str) -> None:
        if self.tty:
            if self._bar is None:
                self._start_bar()
            self._bar.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
            return
        self.out.write(text + "\n")
        self.out.flush()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, ProgressColumn
        from rich.progress import Progress as RichProgress
        from rich.table import Column
        from rich.text import Text

        reporter = self

        class StatusColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(reporter.progress().status(), no_wrap=True, overflow="ellipsis")

        console = self._console or Console(file=self.out, force_terminal=True)
        # the status takes the width it needs, the bar what is left (at least 10 columns)
        bar = BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=10))
        self._bar = RichProgress(bar, StatusColumn(table_column=Column(no_wrap=True)), console=console, expand=True,
                                 refresh_per_second=2, redirect_stdout=False, redirect_stderr=False)
        self._bar_task = self._bar.add_task("tracks", total=None)
        self._bar.start()

    def _update_bar(self, refresh: bool) -> None:
        if self._bar is None:
            self._start_bar()
        now = self.progress()  # outside the bar's lock: its refresh thread takes ours
        total = now.tracks_total if now.tracks_total else (1 if now.finished else None)
        self._bar.update(self._bar_task, total=total, completed=now.tracks_done if now.tracks_total else
                         (1 if now.finished else 0), refresh=refresh)


def _basename(task_name: str) -> str:
    return task_name.split(":", 1)[0]


def _stem(task_name: str) -> str | None:
    """The track stem of a per-track task ('convert:<stem>:wav'), None for playlist tasks."""
    return task_track_stem(task_name, TRACK_STAGES)


def _fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
