"""rekordbox:xml — the build target of the manifest's `rekordbox:` section (see export.py)."""

from __future__ import annotations

from typing import Any

from cratefile.actions import action
from cratefile.context import RunContext
from cratefile.errors import SinkError


@action("Rekordbox XML", scope="sink")
def run_rekordbox(ctx: RunContext, name: str, config: Any) -> None:
    from cratefile.sinks.rekordbox.export import export_rekordbox

    try:
        export_rekordbox(ctx.manifest, config.path, config.format)
    except ValueError as exc:  # a value the XML cannot hold
        raise SinkError(str(exc)) from exc
