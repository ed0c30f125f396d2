"""rekordbox — the build target for the manifest's `rekordbox:` section (see export.py)."""

from __future__ import annotations

from doit.exceptions import TaskFailed

from cratefile.engine.context import RunContext
from cratefile.errors import CratefileError


def run_rekordbox(ctx: RunContext) -> TaskFailed | bool:
    from cratefile.export import export_rekordbox

    config = ctx.manifest.rekordbox
    assert config is not None
    try:
        export_rekordbox(ctx.manifest, config.path, config.format)
    except (CratefileError, ValueError) as exc:
        ctx.sink_errors.append(f"Rekordbox XML: {exc}")
        return TaskFailed(f"Rekordbox XML: {exc}")
    return True
