"""Where tracks come from: the registry of source kinds.

`SOURCES` maps a playlist entry's key (`folder:`, `url:`, `notion:`) to the kind that owns it
(see `sources/base.py` for the protocol). The manifest's schema takes each kind's fragment
from here, and every stage dispatches through it. To add a kind: write one module with a
class implementing `Source`, and add one entry below (with the facts cratefile.registry.Lazy
answers without importing it).
"""

from __future__ import annotations

from typing import cast

from cratefile.registry import Lazy
from cratefile.sources.base import Listing, ManifestReader, Source

# Each entry imports its module when first asked anything but the facts declared here
# (cratefile.registry): a run imports only the kinds its manifest uses.
SOURCES: dict[str, Source] = {
    "folder": cast(Source, Lazy("cratefile.sources.folder:FolderSource", kind="folder", settings=None, verb_words=())),
    "url": cast(Source, Lazy("cratefile.sources.url:UrlSource", kind="url", settings=None, verb_words=())),
    "notion": cast(Source, Lazy("cratefile.sources.notion:NotionSource", kind="notion", settings=None,
                                verb_words=())),
    "spotify": cast(Source, Lazy("cratefile.sources.spotify:SpotifySource", kind="spotify", settings="spotify",
                                 verb_words=("login spotify", "review"))),
    "discogs": cast(Source, Lazy("cratefile.sources.discogs:DiscogsSource", kind="discogs", settings="discogs",
                                 verb_words=("review",))),
}

__all__ = ["SOURCES", "Listing", "ManifestReader", "Source"]
