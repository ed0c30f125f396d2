"""Plain `doit` in a workspace builds what playlists.yaml asks for, like `cratefile` does.

Thin on purpose: the tasks come from cratefile.engine.tasks.
"""

from pathlib import Path

from cratefile.engine.context import RunContext
from cratefile.engine.tasks import make_namespace
from cratefile.manifest import load_manifest

globals().update(make_namespace(RunContext(load_manifest(Path(__file__).with_name("playlists.yaml")))))
