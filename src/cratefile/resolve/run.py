"""Resolving one playlist's wanted tracks into upload refs (see cratefile.resolve).

Per wanted track, the first that applies: a pin in the manifest; a settled entry of
playlists.lock (no search); an open entry of cache/matches.json younger than review_ttl (no
search); otherwise SoundCloud search, scored and decided. `--rematch` skips the lock and the
open entries (pins still win). Decisions are saved as they are made, so an interrupted
resolution keeps its progress.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cratefile.errors import Category, SourceError, TrackFailure
from cratefile.records import Playlist, Sidecar, TrackRef
from cratefile.resolve import Decision, Wanted, pins_digest
from cratefile.resolve.book import MatchBook
from cratefile.resolve.score import MatchRules, decide_ranked, load_rules, rank

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.sources.base import Listing

log = logging.getLogger(__name__)


def book_of(run: RunContext) -> MatchBook:
    """The run's MatchBook for this workspace (read from disk once per run)."""
    return cast(MatchBook, run.shared("match book", lambda: MatchBook.of(run.manifest.path.parent,
                                                                           run.manifest.cache)))


def _ref(decision: Decision, wanted: Wanted) -> TrackRef:
    assert decision.url and decision.key
    extractor, _, ident = decision.key.partition(" ")
    ie_key = "Soundcloud" if extractor == "soundcloud" else extractor
    entry: dict[str, Any] = {"_type": "url", "url": decision.url, "ie_key": ie_key, "id": ident,
                             "resolved": {"source": wanted.source_id, "status": decision.status,
                                          "confidence": decision.confidence, "how": decision.how,
                                          "wanted": wanted.to_entry()}}
    return TrackRef(key=decision.key, url=decision.url, title=wanted.title, artist=wanted.artist or None,
                    duration=wanted.duration, entry=entry)


def _pinned(run: RunContext, wanted: Wanted, pin: str, book: MatchBook, now: float) -> Decision:
    known = book.settled(wanted.source_id)
    if known and known.status == "pinned" and known.note == pin and known.key:
        return known
    from cratefile.sources import ytdlp

    try:
        refs = ytdlp.enumerate_playlist(pin, run.manifest.ytdlp)
    except SourceError as exc:
        raise TrackFailure(exc.category or Category.NOT_FOUND, f"its pin {pin} could not be read: {exc}") from exc
    if len(refs) != 1:
        raise TrackFailure(Category.UNSUPPORTED_URL, f"its pin {pin} is {'a playlist' if refs else 'empty'}, "
                           "not one track: pin a track's URL")
    decision = Decision(wanted.source_id, "pinned", refs[0].url, refs[0].key, 1.0, now, "pin", note=pin)
    book.record(decision, wanted=wanted.to_entry(), pin=pin)
    return decision


def _searched(run: RunContext, wanted: Wanted, rules: MatchRules, book: MatchBook, now: float) -> Decision:
    from cratefile.resolve.search import queries, search

    rejected = book.rejected(wanted.source_id)
    hits = []
    ranked = []
    for query in queries(wanted):
        hits += [h for h in search(query, rules.results, run.manifest.ytdlp) if h.url not in rejected]
        ranked = rank(wanted, hits, rules)
        if ranked and ranked[0].usable and ranked[0].score >= rules.stop_at:
            break
    return decide_ranked(wanted, ranked, rules, now=now)


def decide_one(run: RunContext, wanted: Wanted, rules: MatchRules, book: MatchBook, playlist: Playlist,
               now: float) -> tuple[Decision, bool]:
    """The decision about `wanted`, and whether it took a search."""
    pin = run.manifest.match.pin(wanted.source_id)
    if pin:
        return _pinned(run, wanted, pin, book, now), False
    if not run.rematch:
        settled = book.settled(wanted.source_id)
        if settled is not None:  # matched by search, or chosen in review
            return settled, False
        pending = book.pending(wanted.source_id, run.manifest.match.review_ttl_seconds, now)
        if pending is not None:
            return pending, False
    decision = _searched(run, wanted, rules, book, now)
    book.record(decision, wanted=wanted.to_entry(), playlist=playlist.slug)
    return decision, True


def review_item(wanted: Wanted, decision: Decision) -> dict[str, Any]:
    return {"source": wanted.source_id, "title": wanted.title, "artist": wanted.artist, "url": wanted.url,
            "status": decision.status, "confidence": decision.confidence, "note": decision.note,
            "candidates": [c.to_entry() for c in decision.candidates]}


def resolve(run: RunContext, playlist: Playlist, wanted: list[Wanted]) -> Listing:
    from cratefile.sources.base import Listing

    rules = load_rules(run.manifest.root, accept=run.manifest.match.accept)
    book = book_of(run)
    now = time.time()
    refs: dict[str, TrackRef] = {}
    review: list[dict[str, Any]] = []
    skipped: list[str] = []
    twice: list[str] = []
    counts = {"matched": 0, "pinned": 0, "review": 0, "unmatched": 0, "searched": 0}
    try:
        for w in wanted:
            try:
                decision, searched = decide_one(run, w, rules, book, playlist, now)
            except TrackFailure as failure:  # a pin that cannot be read fails alone
                skipped.append(f"{w.source_id} ({w.artist} - {w.title}): {failure.message}")
                continue
            counts["searched"] += searched
            counts[decision.status] += 1
            if decision.status in ("matched", "pinned") and decision.key and decision.url:
                if decision.key in refs:  # not a failure: the upload is in the playlist once
                    twice.append(f"{w.source_id} ({w.artist} - {w.title}): the same upload as an earlier track "
                                 f"of this playlist ({decision.url}); listed once")
                    continue
                refs[decision.key] = _ref(decision, w)
            else:
                review.append(review_item(w, decision))
    finally:
        book.save()
    log.info("%s: %d matched, %d pinned, %d for review, %d unmatched (%d searched)", playlist.name,
             counts["matched"], counts["pinned"], counts["review"], counts["unmatched"], counts["searched"])
    meta = {"review": review, "match_counts": counts, "skipped": twice, "pins": pins_digest(run)}
    return Listing(tuple(refs.values()), meta=meta, skipped=tuple(skipped))


def download_resolved(run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
    """A matched upload, downloaded like any other; tagged with what the source service says
    of the track (its title, artists, album), not the uploader's 'Artist - Title [FREE DL]'."""
    from cratefile.sources.url import UrlSource

    entry = dict(ref.entry)
    resolved = entry.pop("resolved", None)
    sidecar = UrlSource().download(run, replace(ref, entry=entry), dest)
    wanted = resolved.get("wanted") if isinstance(resolved, dict) else None
    if not isinstance(wanted, dict):
        return sidecar
    w = Wanted.from_entry(wanted)
    return replace(sidecar, title=w.title or sidecar.title, artist=w.artist or sidecar.artist,
                   album=w.album or sidecar.album)
