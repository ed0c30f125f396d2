"""Finish a track before starting the next: doit's dispatcher, serving first the tasks whose
dependencies just finished.

doit hands tasks to its worker threads from a FIFO of ready tasks. Every download of a first
build is ready at once, while a track's analysis becomes ready only when its download ends and
is queued behind all of them: on a 500-track first build no library file would exist until
every track was downloaded, and an interrupted run would leave downloads but no files.
Serving the just-woken tasks first makes each track go download → analyze → convert as soon
as a worker is free, and starts another download only when no woken work is waiting. Which
tasks run, and what each depends on, is unchanged: only the order among ready tasks differs.

doit has no hook for its dispatcher: its `run` command builds a `TaskControl` it looks up in
its own module at every run, so `install` points that name at the subclass below (the same
for `cratefile` and for plain `doit` in a workspace, both of which load engine/tasks.py).
"""

from __future__ import annotations

from typing import Any

from doit import cmd_run, control


class TrackFirstDispatcher(control.TaskDispatcher):  # type: ignore[misc]  # doit has no types
    def _update_waiting(self, processed: Any) -> None:
        before = len(self.ready)
        super()._update_waiting(processed)
        woken = [self.ready.pop() for _ in range(len(self.ready) - before)]  # last first
        self.ready.extendleft(woken)  # back in their order, ahead of what was already waiting


class TrackFirstControl(control.TaskControl):  # type: ignore[misc]
    def task_dispatcher(self) -> TrackFirstDispatcher:
        assert self.selected_tasks is not None, "must call 'process' before this"
        return TrackFirstDispatcher(self.tasks, self.targets, self.selected_tasks)


def install() -> None:
    """Make doit's run command dispatch with TrackFirstDispatcher (idempotent)."""
    cmd_run.TaskControl = TrackFirstControl
