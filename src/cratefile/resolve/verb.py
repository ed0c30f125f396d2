"""The `cratefile review` verb, as the Spotify and Discogs kinds register it (kept apart from
resolve/review.py so that importing the review code never imports the sink registry)."""

from __future__ import annotations

from collections.abc import Sequence

from cratefile.records import Manifest
from cratefile.resolve.review import USAGE
from cratefile.sinks.base import Verb


def _review(manifest: Manifest, words: Sequence[str]) -> int:
    from cratefile.resolve.review import run

    return run(manifest, words)


REVIEW_VERB = Verb(f"{USAGE}   Spotify/Discogs tracks without a sure match: accept a candidate, paste a URL, "
                   "or reject them", _review)
