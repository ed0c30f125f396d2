"""Scoring search hits against a wanted track, and the decision that follows.

A candidate's score is a weighted sum of similarities (artist, title, who uploaded it, how much it
is played), times a bonus when both name the same version; then capped by what makes it another
recording whatever its name says (another version, another length, another ISRC, none of the
artists). Previews and blocked uploads are never accepted. Only a candidate at or above `accept`,
not challenged by a different recording within `margin`, is matched; the rest goes to review
with its best candidates. Weights and bars: rules/matching.yaml.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from cratefile.resolve import Candidate, Decision, Wanted
from cratefile.resolve.hits import Hit
from cratefile.resolve.normalize import (
    Title,
    fold_account,
    fold_artist,
    numbering,
    parse_title,
    parse_upload,
    split_artists,
)

REVIEW_CANDIDATES = 5
LENGTH_VERSIONS = frozenset({"extended", "radio edit"})  # versions a length tells apart
TRUSTED = 0.7  # an uploader at least this trusted may be accepted without a human


@dataclass(frozen=True)
class MatchRules:
    """rules/matching.yaml, read."""

    w_artist: float = 0.45
    w_title: float = 0.35
    w_uploader: float = 0.10
    w_popularity: float = 0.10
    version_bonus: float = 0.10
    accept: float = 0.90
    review_floor: float = 0.50
    stop_at: float = 0.95
    margin: float = 0.03
    cap_version: float = 0.60
    cap_duration: float = 0.60
    cap_isrc: float = 0.85
    cap_artist: float = 0.70
    cap_uploader: float = 0.85
    tolerance: float = 3.0
    max_difference: float = 10.0
    max_ratio: float = 0.04
    results: int = 10

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> MatchRules:
        weights = data.get("weights") or {}
        caps = data.get("caps") or {}
        duration = data.get("duration") or {}
        fields: dict[str, Any] = {f"w_{k}": v for k, v in weights.items()}
        fields.update({f"cap_{k}": v for k, v in caps.items()})
        fields.update(duration)
        fields.update({k: v for k, v in data.items() if k not in ("weights", "caps", "duration")})
        return cls(**fields)


def load_rules(root: Path | None = None, *, accept: float | None = None) -> MatchRules:
    """The built-in rules with the workspace's rules/matching.yaml on top (checked against
    schema/matching.schema.json, problems reported with file:line)."""
    from cratefile.manifest import _rule_docs, _validator
    from cratefile.yamlpos import raise_problems, schema_problems

    docs = _rule_docs(root or Path("/nonexistent-workspace"), "matching.yaml")
    problems = []
    merged: dict[str, Any] = {}
    for doc in docs:
        data = doc.data if doc.data is not None else {}
        if not isinstance(data, dict):
            problems.append(doc.problem((), "the top level is not a mapping", "see schema/matching.schema.json"))
            continue
        problems += schema_problems(doc, data, _validator("matching"))
        for key, value in data.items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    raise_problems(problems)
    rules = MatchRules.from_data(merged)
    return replace(rules, accept=accept) if accept is not None else rules


# ------------------------------------------------------------------------------ similarity


def _sim(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0


def _best(name: str, pool: Iterable[str]) -> float:
    return max((_sim(name, other) for other in pool), default=0.0)


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}"


@dataclass(frozen=True)
class _Want:
    """A wanted track, parsed once."""

    title: Title
    artists: tuple[str, ...]
    remixers: tuple[str, ...]
    versions: frozenset[str]
    joined: str


def _want(w: Wanted) -> _Want:
    title = parse_title(w.title)
    artists = tuple(dict.fromkeys(a for name in w.artists for a in split_artists(name)))
    remixers = tuple(dict.fromkeys([*(fold_artist(r) for r in w.remixers), *title.remixers]))
    versions = title.versions
    if w.remixers and "remix" not in versions and not versions & {"edit", "dub", "rework", "bootleg", "vip"}:
        versions = versions | {"remix"}  # Discogs credits a remix only as an extra artist
    return _Want(title, artists, remixers, versions, " ".join(artists))


def _uploader_trust(hit: Hit, upload_artists: Sequence[str], want: _Want) -> tuple[float, str]:
    uploader = fold_account(hit.uploader)
    people = (*want.artists, *want.remixers)
    if uploader and _best(uploader, people) >= 0.9:
        return 1.0, "uploaded by the artist"
    squeezed = tuple(p.replace(" ", "") for p in people)
    if hit.uploader_permalink and _best(fold_account(hit.uploader_permalink.replace("-", " ")).replace(" ", ""),
                                        squeezed) >= 0.9:
        return 1.0, "uploaded by the artist"
    if hit.verified:
        return 1.0, "verified uploader"
    if hit.label or hit.isrc:
        return 0.7, "label upload (label or ISRC in its metadata)"
    if hit.artist and _best(fold_artist(hit.artist), people) >= 0.9:
        return 0.3, "credits the artist, uploaded by another account"
    return 0.0, "uploaded by an unrelated account"


def score(wanted: Wanted, hit: Hit, rules: MatchRules, *, want: _Want | None = None) -> Candidate:
    """How well `hit` is `wanted`, 0..1, with the reasons."""
    want = want or _want(wanted)
    upload = parse_upload(hit.title, hit.uploader, hit.artist)
    reasons: list[str] = []
    caps: dict[str, float] = {}  # why -> the most the candidate can score
    usable = True

    # artists: each wanted artist found among the upload's (the title's 'A - B', publisher
    # metadata, the uploader, the title's credits), on average; the first artist counts double
    pool = (*upload.artists, *upload.title.credited, fold_artist(hit.uploader), *(split_artists(hit.artist or "")))
    if want.artists:
        # the main artist decides; co-artists an upload leaves out cost a little (uploads often
        # name only the first), an artist it names that is not wanted costs more
        per = [_best(a, pool) for a in want.artists]
        artist = per[0] if len(per) == 1 else 0.9 * per[0] + 0.1 * sum(per[1:]) / len(per[1:])
        if want.remixers and "remix" in want.versions and "remix" in upload.title.versions:
            # a remix is often uploaded by its remixer under their name alone
            artist = max(artist, max(_best(r, pool) for r in want.remixers))
        artist = max(artist, _sim(want.joined, " ".join(upload.artists)))
        strangers = [a for a in upload.artists if _best(a, (*want.artists, *want.remixers, *want.title.credited)) < 0.6]
        if strangers and upload.artist_from == "title":
            artist *= 0.8
    else:
        artist = 0.5
    title = _sim(want.title.base, upload.title.base)
    if title < 0.9:  # an upload that packs everything into the title: 'Artist Title Remix'
        title = max(title, _sim(f"{want.joined} {want.title.base}", f"{' '.join(upload.artists)} {upload.title.base}"))

    trust, who = _uploader_trust(hit, upload.artists, want)
    if trust < TRUSTED:  # a stranger's upload may be cut, pitched or mislabeled: a human decides
        caps["uploader"] = rules.cap_uploader
    popularity = min(1.0, math.log10(1 + (hit.plays or 0)) / 6.0)
    total = (rules.w_artist * artist + rules.w_title * title + rules.w_uploader * trust
             + rules.w_popularity * popularity)
    reasons.append(f"artist {artist:.2f}, title {title:.2f}, {who}")

    # a sequel is another track: 'Strings Pt. 2', 'Dopamine II', 'Age Of Love 2.0'
    if numbering(want.title.base) != numbering(upload.title.base):
        reasons.append(f"another part: {upload.title.base!r}")
        caps["part"] = rules.cap_version

    # versions must agree: a remix is not the original, an extended mix is not the radio edit;
    # an upload that names no version may be the extended/radio edit when its length says so
    theirs = upload.title.versions
    unnamed = want.versions - theirs
    if (not theirs and not upload.title.original and unnamed and unnamed <= LENGTH_VERSIONS
            and wanted.duration and hit.length
            and abs(wanted.duration - hit.length) <= rules.tolerance):
        reasons.append(f"{', '.join(sorted(unnamed))} not named, its length agrees")
        theirs = want.versions
    if want.versions != theirs:
        if want.versions - theirs:
            reasons.append(f"version differs: wanted {', '.join(sorted(want.versions - theirs))}")
        if theirs - want.versions:
            reasons.append(f"version differs: upload is {', '.join(sorted(theirs - want.versions))}")
        caps["version"] = rules.cap_version
    elif want.versions:
        theirs_remixers = upload.title.remixers
        if want.remixers and theirs_remixers and max(_best(r, theirs_remixers) for r in want.remixers) < 0.8:
            reasons.append(f"another remixer: {', '.join(upload.title.remixers)}")
            caps["version"] = rules.cap_version
        else:
            total *= 1.0 + rules.version_bonus
            reasons.append(f"same version: {', '.join(sorted(theirs))}")

    if want.artists and max((_best(a, pool) for a in want.artists), default=0.0) < 0.6:
        reasons.append("none of the artists is named")
        caps["artist"] = rules.cap_artist

    length = hit.length
    if wanted.duration and length:
        diff = abs(wanted.duration - length)
        allowed = max(rules.max_difference, rules.max_ratio * wanted.duration)
        if diff <= rules.tolerance:
            reasons.append("duration agrees")
        elif diff <= allowed:
            total -= 0.05
            reasons.append(f"duration differs by {diff:.0f} s")
        else:
            reasons.append(f"duration {_mmss(length)}, wanted {_mmss(wanted.duration)}")
            caps["duration"] = rules.cap_duration

    if wanted.isrc and hit.isrc:
        if wanted.isrc.replace("-", "").upper() == hit.isrc.replace("-", "").upper():
            # the recording is identified: who uploaded it and how it names the artists no longer
            # matter (a length, version or part that disagrees still does)
            reasons.append("ISRC agrees")
            caps.pop("uploader", None)
            caps.pop("artist", None)
            if not caps:
                total = max(total, 0.99)
        else:
            reasons.append("ISRC differs")
            caps["isrc"] = rules.cap_isrc

    if hit.blocked:
        usable = False
        reasons.append("not playable here (blocked)")
    elif hit.preview_only:
        usable = False
        reasons.append("preview only (a 30-s Go+ snippet)")

    final = min([max(0.0, min(1.0, total)), *caps.values()])
    return Candidate(url=hit.url, key=hit.key, title=hit.title, uploader=hit.uploader,
                     duration=length, score=round(final, 4), reasons=tuple(reasons), usable=usable)


def _same_recording(a: Candidate, b: Candidate, rules: MatchRules) -> bool:
    """Two uploads of one recording (the artist's and the label's): same version, same base
    title, lengths within what encoders and trimmed silence change (max_difference)."""
    if a.duration and b.duration and abs(a.duration - b.duration) > rules.max_difference:
        return False
    pa, pb = parse_upload(a.title, a.uploader or "").title, parse_upload(b.title, b.uploader or "").title
    return pa.versions == pb.versions and numbering(pa.base) == numbering(pb.base) and _sim(pa.base, pb.base) >= 0.9


def rank(wanted: Wanted, hits: Iterable[Hit], rules: MatchRules) -> list[Candidate]:
    """Every hit scored, best first (one per upload)."""
    want = _want(wanted)
    seen: dict[str, Candidate] = {}
    for hit in hits:
        if hit.key not in seen:
            seen[hit.key] = score(wanted, hit, rules, want=want)
    return sorted(seen.values(), key=lambda c: (-c.score, c.url))


def decide(wanted: Wanted, hits: Iterable[Hit], rules: MatchRules, *, now: float | None = None) -> Decision:
    """Matched only when one usable candidate reaches `accept` and no different recording is
    as good; review when something is worth a look; unmatched otherwise."""
    return decide_ranked(wanted, rank(wanted, hits, rules), rules, now=now)


def decide_ranked(wanted: Wanted, ranked: list[Candidate], rules: MatchRules, *, now: float | None = None) -> Decision:
    when = time.time() if now is None else now
    usable = [c for c in ranked if c.usable]
    shown = tuple(ranked[:REVIEW_CANDIDATES])
    if usable and usable[0].score >= rules.accept:
        best = usable[0]
        rivals = [c for c in usable[1:] if c.score >= best.score - rules.margin and not _same_recording(best, c, rules)]
        if not rivals:
            return Decision(wanted.source_id, "matched", best.url, best.key, best.score, when, "search", shown)
        return Decision(wanted.source_id, "review", None, None, best.score, when, "search", shown,
                        note=f"two different uploads score alike ({best.score:.2f} and {rivals[0].score:.2f})")
    if ranked and ranked[0].score >= rules.review_floor:
        note = None
        if not ranked[0].usable:
            note = "preview only" if any("preview only" in r for r in ranked[0].reasons) else "not playable"
        best_score = (usable[0] if usable else ranked[0]).score
        return Decision(wanted.source_id, "review", None, None, best_score, when, "search", shown, note=note)
    return Decision(wanted.source_id, "unmatched", None, None, ranked[0].score if ranked else None, when, "search",
                    shown, note="no candidate" if not ranked else "no candidate is close")
