"""Plain `doit` in a workspace builds what playlists.yaml asks for, like `cratefile` does.

Thin on purpose: the tasks come from cratefile.engine.tasks. The workspace lock is held for
the life of the doit process (the kernel drops it when the process ends).
"""

from pathlib import Path

from cratefile.context import RunContext
from cratefile.engine.lock import WorkspaceLock
from cratefile.engine.tasks import make_namespace
from cratefile.manifest import load_manifest

_manifest = load_manifest(Path(__file__).with_name("playlists.yaml"))
_lock = WorkspaceLock(_manifest.cache / ".lock").__enter__()
globals().update(make_namespace(RunContext(_manifest)))
