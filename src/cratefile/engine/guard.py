"""A per-track action that raises something unexpected (a bug) still only fails its track.

The traceback goes to the log, the track is recorded as `internal_error` (retried next run)
and the other tracks go on, as for any other track failure.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from doit.exceptions import TaskFailed

from cratefile.engine.context import RunContext
from cratefile.errors import CatalogError, Category, TrackFailure

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def guarded(stage: str) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def action(ctx: RunContext, track: Any, *args: Any) -> Any:
            try:
                return fn(ctx, track, *args)
            except CatalogError:
                raise  # the catalog itself is broken: every track would fail the same way
            except Exception as exc:  # noqa: BLE001 - the boundary where a bug becomes a track failure
                key = track if isinstance(track, str) else track["key"]
                log.exception("%s of %s failed unexpectedly", stage, key)
                failure = TrackFailure(Category.INTERNAL,
                                       f"{type(exc).__name__}: {exc} (a bug; traceback in cache/logs/cratefile.log)")
                ctx.failed(key, stage, failure)
                return TaskFailed(f"{key}: {failure}")

        return action  # type: ignore[return-value]

    return wrap
