"""Where tracks come from: the registry of source kinds.

`SOURCES` maps a playlist entry's key (`folder:`, `url:`, `notion:`) to the kind that owns it
(see `sources/base.py` for the protocol). The manifest's schema takes each kind's fragment
from here, and every stage dispatches through it. To add a kind: write one module with a
class implementing `Source`, and add one line below.
"""

from __future__ import annotations

from cratefile.sources.base import Listing, ManifestReader, Source
from cratefile.sources.discogs import DiscogsSource
from cratefile.sources.folder import FolderSource
from cratefile.sources.notion import NotionSource
from cratefile.sources.spotify import SpotifySource
from cratefile.sources.url import UrlSource

SOURCES: dict[str, Source] = {
    "folder": FolderSource(),
    "url": UrlSource(),
    "notion": NotionSource(),
    "spotify": SpotifySource(),
    "discogs": DiscogsSource(),
}

__all__ = ["SOURCES", "Listing", "ManifestReader", "Source"]
