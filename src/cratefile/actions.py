"""The one failure convention of every build action (core stages and sinks alike).

An action is a plain function `fn(ctx, subject, *args)` that returns normally when it built
what it should and raises when it did not. `action(stage, scope)` wraps it for doit and owns
what a failure means, in this order:

1. The run is stopping (Ctrl-C, SIGTERM, or trouble in the environment seen by another
   action): nothing is recorded; what was not finished is simply not done yet.
2. Trouble in the environment (a full or read-only volume, a missing permission, a missing
   tool: `environment.environment_problem`): never the track's failure. The run stops
   scheduling work, says it once, writes its report and exits 74; the next run continues.
3. `TrackFailure` (scope "track"): recorded against the track with its category (catalog +
   report); the other tracks go on.
4. `SourceError` (scope "playlist"): the playlist could not be enumerated or published; its
   previous snapshot stands and the report names the playlist.
5. Any other `CratefileError` (scope "sink"): that sink failed as a whole this run (one line
   in the report); the build's results stand and the sink is retried next run.
6. `CatalogError`: the catalog itself is broken, so every track would fail the same way:
   re-raised, the run stops.
7. Anything else is a bug: the traceback goes to the log, the subject is recorded as
   `internal_error` (retried next run) and the run goes on.

In every case the action returns doit's `TaskFailed`, so doit knows the task did not build.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from doit.exceptions import TaskFailed

from cratefile.context import RunContext
from cratefile.environment import EXIT_ENVIRONMENT, environment_problem
from cratefile.errors import CatalogError, Category, CratefileError, SourceError, TrackFailure

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
Scope = Literal["track", "playlist", "sink"]

BUG_HINT = "a bug; traceback in cache/logs/cratefile.log"


def subject_key(subject: Any) -> str:
    """The track key, playlist slug or sink name an action is about."""
    if isinstance(subject, dict):
        return str(subject["key"])
    return str(subject)


def action(stage_name: str, scope: Scope = "track") -> Callable[[F], F]:
    """Wrap `fn(ctx, subject, *args)` as a doit action with the failure convention above.

    `stage_name` may name the action's arguments: "convert {0}" is "convert wav"."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(ctx: RunContext, subject: Any, *args: Any) -> TaskFailed | bool:
            key = subject_key(subject)
            stage = stage_name.format(*args)
            if ctx.stop_reason:
                return TaskFailed(f"{key}: not started ({ctx.stop_reason})")
            try:
                fn(ctx, subject, *args)
            except Exception as exc:  # noqa: BLE001 - the one place where failures get their meaning
                return _settle(ctx, scope, stage, key, exc)
            if scope == "track":
                ctx.succeeded(key, stage)
            return True

        return run  # type: ignore[return-value]

    return wrap


def _settle(ctx: RunContext, scope: Scope, stage: str, key: str, exc: Exception) -> TaskFailed:
    if ctx.stop_reason:
        return TaskFailed(f"{key}: stopped ({ctx.stop_reason})")
    problem = environment_problem(exc)
    if problem is None and isinstance(exc, TrackFailure) and exc.category is Category.ENVIRONMENT:
        problem = exc.message  # said by a worker process, where the cause could not travel
    if problem:
        log.warning("%s of %s stopped the run: %s", stage, key, problem, exc_info=exc)
        ctx.stop(problem, EXIT_ENVIRONMENT)
        return TaskFailed(problem)
    if isinstance(exc, CatalogError):
        raise exc
    if isinstance(exc, TrackFailure):
        if scope == "track":
            ctx.failed(key, stage, exc)
            return TaskFailed(f"{key}: {exc}")
        return _failed(ctx, scope, stage, key, str(exc))
    if isinstance(exc, CratefileError):
        if scope == "track":
            category = getattr(exc, "category", None) if isinstance(exc, SourceError) else None
            failure = TrackFailure(category or Category.TRANSIENT, str(exc))
            ctx.failed(key, stage, failure)
            return TaskFailed(f"{key}: {failure}")
        return _failed(ctx, scope, stage, key, str(exc))
    log.error("%s of %s failed unexpectedly", stage, key, exc_info=exc)
    message = f"{type(exc).__name__}: {exc} ({BUG_HINT})"
    if scope == "track":
        failure = TrackFailure(Category.INTERNAL, message)
        ctx.failed(key, stage, failure)
        return TaskFailed(f"{key}: {failure}")
    return _failed(ctx, scope, stage, key, message)


def _failed(ctx: RunContext, scope: Scope, stage: str, key: str, message: str) -> TaskFailed:
    if scope == "playlist":
        ctx.playlist_errors[key] = message
        name = ctx.manifest.playlist(key).name
        return TaskFailed(f"playlist {name!r}: {message}")
    ctx.sink_failed(stage, message)
    return TaskFailed(f"{stage}: {message}")
