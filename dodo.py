"""Plain `doit` in a workspace builds what playlists.yaml asks for, like `cratefile` does.

Thin on purpose: the tasks come from cratefile.engine.tasks. The workspace lock is held for
the life of the doit process (the kernel drops it when the process ends). A manifest error or
a busy workspace is one line on stderr and cratefile's exit code, not a traceback from doit.
"""

import sys
from pathlib import Path

from cratefile.cli import EXIT_BUSY, EXIT_USAGE
from cratefile.context import RunContext
from cratefile.engine.lock import WorkspaceLock
from cratefile.engine.tasks import make_namespace, plans_everything, runs_tasks
from cratefile.errors import ManifestError, WorkspaceBusy
from cratefile.manifest import load_manifest

try:
    _manifest = load_manifest(Path(__file__).with_name("playlists.yaml"))
    _lock = WorkspaceLock(_manifest.cache / ".lock").__enter__()
except ManifestError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(EXIT_USAGE)
except WorkspaceBusy:
    _holder = (_manifest.cache / ".lock").read_text("utf-8", "replace").strip() or "gone now"
    print(f"busy: another cratefile run holds {_manifest.root} ({_holder}); wait for it to "
          "finish, or run cratefile --wait SECONDS", file=sys.stderr)
    sys.exit(EXIT_BUSY)
globals().update(make_namespace(RunContext(_manifest), full=plans_everything(sys.argv[1:]),
                                runs=runs_tasks(sys.argv[1:])))
