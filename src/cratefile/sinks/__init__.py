"""Where built files go after the library is made: the registry of sinks.

`SINKS` maps a sink's name to the sink (see `sinks/base.py` for the protocol). The manifest's
schema takes each sink's section from here, the build makes each sink's tasks once the group
it comes `after` ran, and `cratefile <verb>` dispatches to the sinks' verbs. To add a sink:
write one package under `sinks/` with a class implementing `Sink`, and add one line below.
Order matters only for display: each sink's `after` decides when its tasks are made.
"""

from __future__ import annotations

from cratefile.sinks.base import BuildView, Sink, Verb
from cratefile.sinks.eagle import EagleSink
from cratefile.sinks.notion import NotionSink
from cratefile.sinks.playlists import PlaylistsSink
from cratefile.sinks.rekordbox import RekordboxSink

SINKS: dict[str, Sink] = {
    "playlists": PlaylistsSink(),
    "rekordbox": RekordboxSink(),
    "eagle": EagleSink(),
    "notion": NotionSink(),
}


__all__ = ["SINKS", "BuildView", "Sink", "Verb"]
