"""`cratefile review`: the Spotify/Discogs tracks no upload was sure for, and a human's answer.

    cratefile review                       on a terminal: each open track with its candidates;
                                           1-9 accept that one, u URL use this upload, r none of
                                           these, s skip, q quit. Elsewhere: the list, as text
    cratefile review --json                the open tracks and their candidates, for scripts
    cratefile review --accept ID [N|URL]   take candidate N (default 1) or the upload at URL
    cratefile review --reject ID           none of the candidates is the track: never offered again

Answers go to playlists.lock (how: review); the next `cratefile` builds them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from cratefile.errors import CratefileError, SourceError, UsageError
from cratefile.records import Manifest
from cratefile.resolve import Candidate, Decision
from cratefile.resolve.book import MatchBook

USAGE = "review [--json] [--accept ID [N|URL]] [--reject ID]"


def _items(book: MatchBook) -> list[dict[str, Any]]:
    out = []
    for sid, item in sorted(book.open_items().items()):
        decision = Decision.from_entry(item.get("decision") or {"source_id": sid, "status": "unmatched"})
        wanted = item.get("wanted") or {}
        out.append({"source": sid, "title": wanted.get("title"), "artist": ", ".join(wanted.get("artists") or []),
                    "duration": wanted.get("duration"), "url": wanted.get("url"), "status": decision.status,
                    "confidence": decision.confidence, "note": decision.note,
                    "playlists": item.get("playlists") or [],
                    "candidates": [c.to_entry() for c in decision.candidates]})
    return out


def _mmss(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?:??"
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}"


def describe(item: dict[str, Any]) -> list[str]:
    head = f"{item['source']}  {item['artist']} - {item['title']} ({_mmss(item['duration'])})"
    lines = [head, f"  {item['status']}" + (f": {item['note']}" if item.get("note") else "")]
    for i, c in enumerate(item["candidates"], 1):
        lines.append(f"  {i}. {c['score']:.2f}  {c['uploader']}: {c['title']} ({_mmss(c['duration'])})"
                     f"{'' if c.get('usable', True) else '  [not downloadable]'}")
        lines.append(f"       {c['url']}  {'; '.join(c.get('reasons') or [])}")
    if not item["candidates"]:
        lines.append("  no candidates: paste the upload's URL with --accept ID URL")
    return lines


def _use_url(manifest: Manifest, book: MatchBook, sid: str, url: str, wanted: dict[str, Any] | None) -> str:
    from cratefile.sources import ytdlp

    try:
        refs = ytdlp.enumerate_playlist(url, manifest.ytdlp)
    except SourceError as exc:
        raise CratefileError(f"{url} could not be read: {exc}") from exc
    if len(refs) != 1:
        raise CratefileError(f"{url} is {'a playlist' if refs else 'empty'}, not one track")
    book.record(Decision(sid, "pinned", refs[0].url, refs[0].key, 1.0, time.time(), "review"), wanted=wanted)
    return refs[0].url


def accept(manifest: Manifest, book: MatchBook, sid: str, choice: str = "1") -> str:
    """Take candidate `choice` (1-based) or the upload at URL `choice` for `sid`; returns its URL."""
    item = book.open_item(sid)
    wanted = item.get("wanted") if item else None
    if choice.startswith(("http://", "https://")):
        return _use_url(manifest, book, sid, choice, wanted)
    if item is None:
        raise UsageError(f"{sid} is not waiting for review (cratefile review --json lists what is)")
    cands = [Candidate.from_entry(c) for c in (item.get("decision") or {}).get("candidates") or []]
    if not choice.isdigit() or not 1 <= int(choice) <= len(cands):
        raise UsageError(f"{sid} has {len(cands)} candidate{'' if len(cands) == 1 else 's'}; "
                         f"{choice!r} is not one of them (give a number or an upload's URL)")
    chosen = cands[int(choice) - 1]
    if not chosen.usable or not chosen.key:
        raise UsageError(f"candidate {choice} of {sid} cannot be downloaded ({'; '.join(chosen.reasons)})")
    book.record(Decision(sid, "matched", chosen.url, chosen.key, chosen.score, time.time(), "review"), wanted=wanted)
    return chosen.url


def reject(book: MatchBook, sid: str) -> int:
    item = book.open_item(sid)
    if item is None:
        raise UsageError(f"{sid} is not waiting for review (cratefile review --json lists what is)")
    decision = Decision.from_entry(item["decision"])
    urls = [c.url for c in decision.candidates]
    book.reject(sid, urls)
    book.record(Decision(sid, "unmatched", None, None, None, time.time(), "review", note="rejected in review"),
                wanted=item.get("wanted"))
    return len(urls)


def interactive(manifest: Manifest, book: MatchBook, items: list[dict[str, Any]],
                ask: Callable[[str], str], out: TextIO) -> int:
    decided = 0
    for n, item in enumerate(items, 1):
        print(f"\n[{n}/{len(items)}] " + "\n".join(describe(item)), file=out)
        while True:
            answer = ask("accept 1-9 / u URL / r(eject) / s(kip) / q(uit)> ").strip()
            try:
                if answer in ("q", "quit"):
                    return decided
                if answer in ("s", "skip", ""):
                    break
                if answer in ("r", "reject"):
                    reject(book, item["source"])
                elif answer.startswith("u "):
                    print(f"  using {accept(manifest, book, item['source'], answer[2:].strip())}", file=out)
                else:
                    print(f"  accepted {accept(manifest, book, item['source'], answer)}", file=out)
                decided += 1
                book.save()
                break
            except (UsageError, CratefileError) as exc:
                print(f"  {exc}", file=out)
    return decided


def run(manifest: Manifest, words: Sequence[str]) -> int:
    book = MatchBook.of(manifest.path.parent, manifest.cache)
    args = list(words)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if args[:1] == ["--accept"] and len(args) in (2, 3):
        url = accept(manifest, book, args[1], args[2] if len(args) == 3 else "1")
        book.save()
        print(f"{args[1]}: {url} (written to playlists.lock; the next cratefile run builds it)")
        return 0
    if args[:1] == ["--reject"] and len(args) == 2:
        count = reject(book, args[1])
        book.save()
        print(f"{args[1]}: {count} candidate{'' if count == 1 else 's'} rejected; searched again after review_ttl "
              "or with cratefile --rematch, never offered again")
        return 0
    if args:
        raise UsageError(f"cratefile {USAGE}: unexpected {' '.join(args)!r}")
    items = _items(book)
    if as_json:
        print(json.dumps({"items": items}, indent=2, ensure_ascii=False))
        return 0
    if not items:
        print("nothing to review")
        return 0
    if sys.stdin.isatty() and sys.stdout.isatty():
        decided = interactive(manifest, book, items, input, sys.stdout)
        print(f"{decided} decided, {len(items) - decided} left; run cratefile to build what was accepted")
        return 0
    for item in items:
        print("\n".join(describe(item)))
    print(f"{len(items)} track{'' if len(items) == 1 else 's'} to review: cratefile review --accept ID [N|URL] "
          "or --reject ID (on a terminal, cratefile review asks)")
    return 0
