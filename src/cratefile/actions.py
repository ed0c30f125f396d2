"""The one failure convention of every build action (core stages and sinks alike).

An action is a plain function `fn(ctx, subject, *args)` that returns normally when it built
what it should and raises one of our errors when it did not. `action(stage, scope)` wraps it
for doit and owns what a failure means:

- `TrackFailure` (scope "track"): recorded against the track with its category (catalog +
  report); the other tracks go on.
- `SourceError` (scope "playlist"): the playlist could not be enumerated; its previous
  snapshot stands and the report names the playlist.
- any `CratefileError` (scope "sink"): that sink failed as a whole this run (one line in the
  report); the build's results stand and the sink is retried next run.
- `CatalogError`: the catalog itself is broken, so every track would fail the same way:
  re-raised, the run stops.
- anything else is a bug: the traceback goes to the log, the subject is recorded as
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
            try:
                fn(ctx, subject, *args)
            except CatalogError:
                raise
            except TrackFailure as failure:
                if scope != "track":
                    return _failed(ctx, scope, stage, key, str(failure))
                ctx.failed(key, stage, failure)
                return TaskFailed(f"{key}: {failure}")
            except (SourceError, CratefileError) as exc:
                if scope == "track":
                    failure = TrackFailure(getattr(exc, "category", None) or Category.TRANSIENT, str(exc))
                    ctx.failed(key, stage, failure)
                    return TaskFailed(f"{key}: {failure}")
                return _failed(ctx, scope, stage, key, str(exc))
            except Exception as exc:  # noqa: BLE001 - the boundary where a bug becomes a recorded failure
                log.exception("%s of %s failed unexpectedly", stage, key)
                message = f"{type(exc).__name__}: {exc} ({BUG_HINT})"
                if scope == "track":
                    failure = TrackFailure(Category.INTERNAL, message)
                    ctx.failed(key, stage, failure)
                    return TaskFailed(f"{key}: {failure}")
                return _failed(ctx, scope, stage, key, message)
            if scope == "track":
                ctx.succeeded(key, stage)
            return True

        return run  # type: ignore[return-value]

    return wrap


def _failed(ctx: RunContext, scope: Scope, stage: str, key: str, message: str) -> TaskFailed:
    if scope == "playlist":
        ctx.playlist_errors[key] = message
        name = ctx.manifest.playlist(key).name
        return TaskFailed(f"playlist {name!r}: {message}")
    ctx.sink_failed(stage, message)
    return TaskFailed(f"{stage}: {message}")
