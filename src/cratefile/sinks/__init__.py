"""Where built files go after the library is made: the registry of sinks.

`SINKS` maps a sink's name to the sink (see `sinks/base.py` for the protocol). The manifest's
schema takes each sink's section from here, the build makes each sink's tasks once the group
it comes `after` ran, and `cratefile <verb>` dispatches to the sinks' verbs. To add a sink:
write one package under `sinks/` with a class implementing `Sink`, and add one entry below
(with the facts cratefile.registry.Lazy answers without importing it).
Order matters only for display: each sink's `after` decides when its tasks are made.
"""

from __future__ import annotations

from typing import cast

from cratefile.registry import Lazy
from cratefile.sinks.base import BuildView, Sink, Verb

# Each entry imports its package when first asked anything but the facts declared here
# (cratefile.registry): a run imports only the sinks its manifest configures.
SINKS: dict[str, Sink] = {
    "playlists": cast(Sink, Lazy("cratefile.sinks.playlists:PlaylistsSink", name="playlists", basename="publish",
                                 section=None, after="convert", verb_words=())),
    "rekordbox": cast(Sink, Lazy("cratefile.sinks.rekordbox:RekordboxSink", name="rekordbox", basename="rekordbox",
                                 section="rekordbox", after="publish", verb_words=("export rekordbox",))),
    "eagle": cast(Sink, Lazy("cratefile.sinks.eagle:EagleSink", name="eagle", basename="eagle", section="eagle",
                             after="convert", verb_words=())),
    "notion": cast(Sink, Lazy("cratefile.sinks.notion:NotionSink", name="notion", basename="notion",
                              section="notion", after="eagle", verb_words=("notion",))),
}


__all__ = ["SINKS", "BuildView", "Sink", "Verb"]
