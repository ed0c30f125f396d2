"""The progress display: a rich bar on a terminal, plain lines elsewhere; totals, stages, ETA."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from doit.exceptions import TaskFailed
from rich.console import Console

from cratefile.engine.reporter import CrateReporter

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _task(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, actions=[object()])


class Clock:
    """A clock the test moves by hand; `tick`: how much it moves on by itself at each reading."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 1000.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def _screen(out: io.StringIO) -> list[str]:
    """What a terminal showed, one entry per redraw or printed line, escape codes removed."""
    text = ANSI.sub("", out.getvalue())
    return [part.strip() for part in re.split(r"[\r\n]", text) if part.strip()]


def _drive(reporter: CrateReporter) -> None:
    tasks = [_task(n) for n in ("download:a", "analyze:a", "download:b", "analyze:b")]
    for t in tasks:
        reporter.get_status(t)
    reporter.skip_uptodate(tasks[0])
    for t in tasks[1:3]:
        reporter.execute_task(t)
        reporter.add_success(t)
    reporter.execute_task(tasks[3])
    reporter.add_failure(tasks[3], TaskFailed("b: analysis_failed: too short"))
    reporter.complete_run()


def test_terminal_shows_tracks_done_and_an_eta() -> None:
    out = io.StringIO()
    reporter = CrateReporter(out, tty=True)
    _drive(reporter)
    screen = _screen(out)
    assert any("1/2 tracks  3/4 tasks" in line for line in screen)  # track a settled, b still has a task
    assert any("ETA" in line for line in screen)
    assert "FAILED  analyze:b: b: analysis_failed: too short" in screen
    assert "2/2 tracks  4/4 tasks  1 failed  finished in 0m00s" in screen[-1]
    assert reporter.executed == ["analyze:a", "download:b", "analyze:b"]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    reporter = CrateReporter(out, tty=False, clock=Clock())
    _drive(reporter)
    assert out.getvalue().splitlines() == [
        "done    analyze:a", "done    download:b", "FAILED  analyze:b: b: analysis_failed: too short",
        "progress: 2/2 tracks (1 failed), finished in 0m00s"]


def test_the_total_comes_from_the_snapshots_once_the_fetch_tasks_ran() -> None:
    calls = []

    def expected() -> int:
        calls.append(1)
        return 5

    reporter = CrateReporter(io.StringIO(), tty=False, expected_tracks=expected)
    reporter.get_status(_task("fetch:crate"))
    assert calls == [] and reporter.progress().tracks_text == "0/? tracks"
    reporter.skip_uptodate(_task("fetch:crate"))
    reporter.get_status(_task("download:a"))  # the first of five tracks doit knows of
    assert calls == [1]
    assert reporter.progress().tracks_text == "0/5 tracks"
    for name in ("analyze:a", "download:b"):
        reporter.get_status(_task(name))
    reporter.skip_uptodate(_task("download:a"))
    reporter.skip_uptodate(_task("analyze:a"))
    assert reporter.progress().tracks_text == "1/5 tracks"
    assert calls == [1]  # asked once


def test_a_failing_count_leaves_the_total_to_the_tracks_seen() -> None:
    reporter = CrateReporter(io.StringIO(), tty=False, expected_tracks=lambda: 1 // 0)
    reporter.get_status(_task("download:a"))
    reporter.get_status(_task("download:b"))
    assert reporter.progress().tracks_text == "0/2 tracks"


def test_the_eta_waits_for_a_measurement_then_uses_it() -> None:
    clock = Clock()
    reporter = CrateReporter(io.StringIO(), tty=False, clock=clock, workers=1, expected_tracks=lambda: 3)
    reporter.get_status(_task("download:a"))
    reporter.execute_task(_task("download:a"))
    assert reporter.progress().eta_text == "ETA --"  # nothing measured: no guess
    clock.now += 10
    reporter.add_success(_task("download:a"))
    # b and c not seen yet: one 10-s download each, one at a time
    assert reporter.progress().eta_text == "ETA 0m20s"
    reporter.get_status(_task("download:b"))
    reporter.execute_task(_task("download:b"))
    clock.now += 4
    assert reporter.progress().eta_text == "ETA 0m16s"  # 6 s left of b, 10 s of c
    reporter.get_status(_task("analyze:a"))  # a stage without any measurement yet: a lower bound
    assert reporter.progress().eta_text == "ETA >0m16s"


def test_the_eta_divides_by_the_workers_and_never_says_zero_while_work_remains() -> None:
    clock = Clock()
    reporter = CrateReporter(io.StringIO(), tty=False, clock=clock, workers=2)
    names = [f"convert:{s}:wav" for s in "abcde"]
    for name in names:
        reporter.get_status(_task(name))
    reporter.execute_task(_task(names[0]))
    clock.now += 30
    reporter.add_success(_task(names[0]))
    assert reporter.progress().eta_text == "ETA 1m00s"  # 4 × 30 s on 2 workers
    reporter.execute_task(_task(names[1]))
    clock.now += 0.01
    reporter.add_success(_task(names[1]))  # the mean drops to 15 s
    assert reporter.progress().eta_text == "ETA 0m23s"  # 3 × 15 s / 2, rounded up
    quick = CrateReporter(io.StringIO(), tty=False, clock=clock)
    for name in ("download:x", "download:y"):
        quick.get_status(_task(name))
    quick.execute_task(_task("download:x"))
    clock.now += 0.001
    quick.add_success(_task("download:x"))
    assert quick.progress().eta_text == "ETA 0m01s"
    wide = CrateReporter(io.StringIO(), tty=False, clock=clock, workers=8)
    for name in ("download:x", "analyze:x", "download:y"):
        wide.get_status(_task(name))
    for name, seconds in (("download:y", 20), ("analyze:y", 40)):
        wide.get_status(_task(name))
        wide.execute_task(_task(name))
        clock.now += seconds
        wide.add_success(_task(name))
    # (20 + 40) s of work on 8 workers, but x's analysis can only start once its download ended
    assert wide.progress().eta_text == "ETA 1m00s"


def test_stage_counts_say_what_the_tracks_do_now() -> None:
    out = io.StringIO()
    reporter = CrateReporter(out, tty=True, console=Console(file=out, force_terminal=True, width=120))
    running = ["download:a", "download:b", "analyze:c", "convert:d:wav", "convert:d:aiff", "convert:e:wav"]
    for name in running + ["analyze:a"]:
        reporter.get_status(_task(name))
    for name in running:
        reporter.execute_task(_task(name))
    assert reporter.progress().stages_text == "downloading 2, analyzing 1, converting 2"
    reporter.add_success(_task("download:a"))  # a redraw
    assert "downloading 1, analyzing 1, converting 2" in _screen(out)[-1]
    reporter.complete_run()


def test_plain_progress_line_at_most_every_interval_and_one_at_the_end() -> None:
    clock = Clock()
    out = io.StringIO()
    reporter = CrateReporter(out, tty=False, clock=clock, workers=1, expected_tracks=lambda: 4)
    for stem in "abcd":
        reporter.get_status(_task(f"download:{stem}"))
    for stem, seconds in zip("abc", (3, 8, 11), strict=True):
        reporter.execute_task(_task(f"download:{stem}"))
        clock.now += seconds
        reporter.add_success(_task(f"download:{stem}"))
    reporter.execute_task(_task("download:d"))
    clock.now += 2
    reporter.add_failure(_task("download:d"), TaskFailed("d: gone"))
    reporter.complete_run()
    assert out.getvalue().splitlines() == [
        "done    download:a",  # 3 s in: too soon for a progress line
        "done    download:b",
        "progress: 2/4 tracks, ETA 0m11s",  # 11 s in: two 5.5-s downloads to go
        "done    download:c",  # 22 s in: 11 s after the last line
        "progress: 3/4 tracks, ETA 0m08s",
        "FAILED  download:d: d: gone",
        "progress: 4/4 tracks (1 failed), finished in 0m24s",
    ]


def test_rich_bar_through_a_captured_console() -> None:
    out = io.StringIO()
    reporter = CrateReporter(out, tty=True, console=Console(file=out, force_terminal=True, width=100),
                             expected_tracks=lambda: 4, clock=Clock(tick=0.001))
    _drive(reporter)
    raw = out.getvalue()
    assert "\x1b[" in raw  # a terminal's rendering
    screen = _screen(out)
    bars = [line for line in screen if "━" in line]
    assert bars and all("tracks" in line for line in bars)
    assert any(line.endswith("1/4 tracks  3/4 tasks  ETA 0m01s") for line in bars)
    assert "FAILED  analyze:b: b: analysis_failed: too short" in screen  # a line of its own, above the bar
    assert "4/4 tracks  4/4 tasks  1 failed  finished in" in bars[-1]  # c and d: nothing to do


def test_with_doits_table_a_track_waits_for_the_stages_still_to_be_created(tmp_path: Path) -> None:
    from doit import create_after
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    reporter = CrateReporter(io.StringIO(), tty=False, expected_tracks=lambda: 3)  # c: held back, no task
    seen = {}

    def record(name: str) -> bool:
        seen[name] = reporter.progress()
        return True

    def task_fetch():
        yield {"name": "crate", "actions": [(record, ["fetch"])]}

    @create_after(executed="fetch")
    def task_download():
        for stem in "ab":
            yield {"name": stem, "actions": [(record, [f"download:{stem}"])]}

    @create_after(executed="download")
    def task_analyze():
        for stem in "ab":
            yield {"name": stem, "actions": [(record, [f"analyze:{stem}"])], "task_dep": [f"download:{stem}"]}

    @create_after(executed="analyze")
    def task_convert():
        for stem in "ab":
            for fmt in ("wav", "aiff"):
                yield {"name": f"{stem}:{fmt}", "actions": [(record, [f"convert:{stem}:{fmt}"])],
                       "task_dep": [f"analyze:{stem}"]}

    namespace = {"task_fetch": task_fetch, "task_download": task_download, "task_analyze": task_analyze,
                 "task_convert": task_convert,
                 "DOIT_CONFIG": {"reporter": reporter, "dep_file": str(tmp_path / "doit.db"), "verbosity": 0}}
    assert DoitMain(ModuleTaskLoader(namespace)).run([]) == 0
    assert seen["fetch"].tracks_total is None  # the snapshots are not counted before the fetch tasks ran
    downloading = seen["download:b"]
    assert (downloading.tracks_total, downloading.tracks_done) == (3, 1)  # c has nothing to do
    assert downloading.tasks_total == 3  # the fetch, and both downloads before doit dispatched b's
    assert downloading.eta_lower_bound  # analyzing and converting are still to be measured
    before_convert = seen["analyze:b"]
    assert before_convert.tracks_done == 1  # a is downloaded and analyzed, but its files are still to make
    assert before_convert.tasks_total == 5
    last = seen["convert:b:aiff"]
    assert (last.tracks_done, last.tasks_total) == (2, 9)
    assert reporter.progress().tracks_text == "3/3 tracks"
    assert len(reporter.executed) == 9


def test_the_plain_path_does_not_import_rich() -> None:
    code = (
        "import io, sys\n"
        "from types import SimpleNamespace as T\n"
        "from cratefile.engine.reporter import CrateReporter\n"
        "r = CrateReporter(io.StringIO(), tty=False)\n"
        "t = T(name='download:a', actions=[1])\n"
        "r.get_status(t); r.execute_task(t); r.add_success(t); r.complete_run()\n"
        "assert 'rich' not in sys.modules, 'rich was imported'\n"
        "r = CrateReporter(io.StringIO(), tty=True)\n"
        "r.get_status(t); r.complete_run()\n"
        "assert 'rich' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
