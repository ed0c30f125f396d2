"""The progress display: one rewritten line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
from types import SimpleNamespace

from doit.exceptions import TaskFailed

from cratefile.engine.reporter import CrateReporter


def _task(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, actions=[object()])


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
    text = out.getvalue()
    assert "\r\033[K[1/2 tracks, 3/4 tasks]" in text  # track a settled, b still has a task
    assert "ETA" in text
    assert "FAILED  analyze:b: b: analysis_failed: too short" in text
    assert reporter.executed == ["analyze:a", "download:b", "analyze:b"]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    reporter = CrateReporter(out, tty=False)
    _drive(reporter)
    assert out.getvalue().splitlines() == [
        "done    analyze:a", "done    download:b", "FAILED  analyze:b: b: analysis_failed: too short"]
