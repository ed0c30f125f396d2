"""Matching a source track to its SoundCloud upload: the resolver against two baselines, on the
labeled candidate set of bench/matching_set.py (generated from a fixed seed).

    python bench/matching.py [--split tune|test|all] [--list 40] [--seed N]

For each system: how many tracks it auto-accepted, the precision of those accepts (right /
accepted), recall (right accepts / tracks that have a right candidate), the share sent to
review and left unmatched, and its wrong accepts by the kind of candidate it took. Systems, all
in the same run on the same cases:

- resolver: `cratefile.resolve.score.decide(wanted, hits, load_rules())`, status 'matched' is an
  accept (hits are `Hit.from_api` of the raw candidates, in search order);
- baseline 1, "first contains": the first result whose title contains the source title
  (case-insensitive), accepted blindly;
- baseline 2, "old weights": the earlier system's score (rapidfuzz token-set similarity:
  artist .45 against uploader or publisher artist, title .35, verified .10, popularity .10 as
  log10 plays / 6, x1.10 when the source's version words all appear in the candidate), best
  candidate accepted at >= 0.75, else review.

Then the resolver's wrong accepts and misses, one line each, for tuning. Tune on `--split tune`;
`--split test` is the held-out fifth, to check that tuning did not just learn the set; `--seed`
generates a fresh set from the same templates.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, utils

sys.path.insert(0, str(Path(__file__).parent))
from matching_set import SEED, Case, build  # noqa: E402

from cratefile.resolve.hits import Hit  # noqa: E402

VERSION_WORDS = re.compile(
    r"\b(remix|extended|radio edit|vip|edit|bootleg|live|dub|sped up|cover|karaoke|mix|podcast|rework|instrumental)\b",
    re.I,
)


@dataclass(frozen=True)
class Outcome:
    status: str  # matched | review | unmatched
    url: str | None = None  # the accepted upload, when matched
    confidence: float | None = None
    note: str = ""  # the best candidate and why, for the lists


def first_contains(case: Case) -> Outcome:
    needle = case.wanted.title.casefold()
    for c in case.candidates:
        if needle in c["title"].casefold():
            return Outcome("matched", c["permalink_url"], 1.0)
    return Outcome("unmatched")


def _versions(text: str) -> set[str]:
    """The version words of a title; '(Original Mix)' is no version."""
    return {m.lower() for m in VERSION_WORDS.findall(re.sub(r"\boriginal mix\b", "", text, flags=re.I))}


def old_score(case: Case, c: dict[str, Any]) -> float:
    w = case.wanted
    user = c.get("user") or {}
    meta = c.get("publisher_metadata") or {}
    names = [n for n in (user.get("username"), meta.get("artist")) if n]
    artist = max((fuzz.token_set_ratio(w.artist, n, processor=utils.default_process) for n in names), default=0.0)
    title = fuzz.token_set_ratio(w.title, c["title"], processor=utils.default_process)
    verified = 1.0 if user.get("verified") else 0.0
    popularity = min(1.0, math.log10(1 + (c.get("playback_count") or 0)) / 6)
    score = 0.45 * artist / 100 + 0.35 * title / 100 + 0.10 * verified + 0.10 * popularity
    wanted_versions = _versions(w.title)
    if wanted_versions and wanted_versions <= _versions(c["title"]):
        score *= 1.10
    return min(score, 1.0)


def old_weights(case: Case) -> Outcome:
    if not case.candidates:
        return Outcome("unmatched")
    best = max(case.candidates, key=lambda c: old_score(case, c))
    score = old_score(case, best)
    if score >= 0.75:
        return Outcome("matched", best["permalink_url"], score)
    return Outcome("review", None, score, f"best {score:.2f}: {best['title']}")


def load_resolver() -> tuple[Callable[[Case], Outcome] | None, str]:
    try:
        from cratefile.resolve.score import decide, load_rules
    except ImportError as exc:
        return None, f"not importable ({exc})"
    rules = load_rules()

    def resolver(case: Case) -> Outcome:
        hits = [h for h in map(Hit.from_api, case.candidates) if h is not None]
        d = decide(case.wanted, hits, rules)
        top = d.candidates[0] if d.candidates else None
        note = f"best {top.score:.2f}: {top.title} [{top.uploader}] {'; '.join(top.reasons)}" if top else ""
        return Outcome("matched" if d.status == "matched" else d.status, d.url if d.status == "matched" else None,
                       d.confidence, note)

    return resolver, "cratefile.resolve.score.decide"


@dataclass
class Tally:
    name: str
    cases: int = 0
    answerable: int = 0  # cases with a right candidate
    accepted: int = 0
    right: int = 0
    review: int = 0
    unmatched: int = 0
    errors: int = 0
    seconds: float = 0.0
    wrong_by_kind: Counter[str] | None = None

    @property
    def precision(self) -> float:
        return self.right / self.accepted if self.accepted else float("nan")

    @property
    def recall(self) -> float:
        return self.right / self.answerable if self.answerable else float("nan")


def run(name: str, system: Callable[[Case], Outcome], cases: list[Case]
        ) -> tuple[Tally, list[tuple[Case, Outcome]]]:
    t = Tally(name, wrong_by_kind=Counter())
    assert t.wrong_by_kind is not None
    outcomes: list[tuple[Case, Outcome]] = []
    for case in cases:
        started = time.perf_counter()
        try:
            out = system(case)
        except Exception:  # noqa: BLE001 - a crashing case is counted and shown, the run goes on
            if t.errors == 0:
                traceback.print_exc()
            t.errors += 1
            out = Outcome("unmatched", note="crashed")
        t.seconds += time.perf_counter() - started
        t.cases += 1
        t.answerable += case.right is not None
        if out.status == "matched":
            t.accepted += 1
            if case.is_right(out.url):
                t.right += 1
            else:
                kind = case.kind_of(out.url)
                t.wrong_by_kind[kind if case.right is not None else f"{kind} (no right candidate)"] += 1
        elif out.status == "review":
            t.review += 1
        else:
            t.unmatched += 1
        outcomes.append((case, out))
    return t, outcomes


def pct(x: float) -> str:
    return "   -  " if math.isnan(x) else f"{100 * x:5.1f}%"


def describe(c: dict[str, Any]) -> str:
    seconds = (c.get("full_duration") or c.get("duration") or 0) / 1000
    preview = " SNIP" if c.get("policy") == "SNIP" else ""
    return f"{c['title']!r} by {c['user']['username']!r} {seconds:.0f}s{preview}"


def source(case: Case) -> str:
    w = case.wanted
    extra = f" remix by {', '.join(w.remixers)}" if w.remixers else ""
    length = f"{w.duration:.0f}s" if w.duration else "no length"
    return f"#{case.n} {w.artist} - {w.title}{extra} ({length}{', ISRC' if w.isrc else ''})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["tune", "test", "all"], default="all")
    ap.add_argument("--list", type=int, default=60, help="at most this many wrong accepts and misses shown")
    ap.add_argument("--seed", type=int, default=SEED, help="another seed generates another set")
    args = ap.parse_args(argv)

    cases = [c for c in build(args.seed) if args.split == "all" or c.split == args.split]
    answerable = sum(c.right is not None for c in cases)
    n_cands = sum(len(c.candidates) for c in cases)
    print(f"set: {len(cases)} source tracks (split {args.split}, seed {args.seed}), {n_cands} candidates, "
          f"{len(cases) - answerable} ({pct((len(cases) - answerable) / len(cases)).strip()}) with no right candidate, "
          f"{sum(c.wanted.source_id.startswith('spotify') for c in cases)} Spotify-like / "
          f"{sum(c.wanted.source_id.startswith('discogs') for c in cases)} Discogs-like")
    traps = Counter(t for c in cases for t in c.traps)
    print("traps (cases):", ", ".join(f"{k} {v}" for k, v in sorted(traps.items(), key=lambda kv: -kv[1])))
    print()

    systems: list[tuple[str, Callable[[Case], Outcome]]] = [("first contains", first_contains),
                                                            ("old weights", old_weights)]
    resolver, how = load_resolver()
    if resolver is None:
        print(f"resolver: {how}; baselines only")
    else:
        systems.insert(0, ("resolver", resolver))
    results = {name: run(name, fn, cases) for name, fn in systems}

    print(f"{'system':<16} {'accepted':>8} {'right':>6} {'wrong':>6} {'precision':>9} {'recall':>7} "
          f"{'review':>7} {'unmatched':>9} {'ms/track':>8}")
    for name, (t, _) in results.items():
        print(f"{name:<16} {t.accepted:>8} {t.right:>6} {t.accepted - t.right:>6} {pct(t.precision):>9} "
              f"{pct(t.recall):>7} {pct(t.review / t.cases):>7} {pct(t.unmatched / t.cases):>9} "
              f"{1000 * t.seconds / t.cases:>8.2f}" + (f"  ({t.errors} crashed)" if t.errors else ""))
    print()
    for name, (t, _) in results.items():
        assert t.wrong_by_kind is not None
        kinds = ", ".join(f"{k} {v}" for k, v in t.wrong_by_kind.most_common()) or "none"
        print(f"wrong accepts by kind, {name}: {kinds}")
    if resolver is not None:
        r = results["resolver"][0]
        print()
        for name in ("first contains", "old weights"):
            b = results[name][0]
            wrong_r, wrong_b = r.accepted - r.right, b.accepted - b.right
            print(f"resolver vs {name}: wrong accepts {wrong_r} vs {wrong_b} "
                  f"({'-' if not wrong_b else f'{wrong_r / wrong_b:.2f}x'}), right accepts {r.right} vs {b.right} "
                  f"({'-' if not b.right else f'{r.right / b.right:.2f}x'})")
        show(results["resolver"][1], args.list)
    return 0


def show(outcomes: list[tuple[Case, Outcome]], limit: int) -> None:
    wrong = [(c, o) for c, o in outcomes if o.status == "matched" and not c.is_right(o.url)]
    missed = [(c, o) for c, o in outcomes if c.right is not None and not (o.status == "matched" and c.is_right(o.url))
              and o.status != "matched"]
    print(f"\nresolver wrong accepts ({len(wrong)}):")
    for case, out in wrong[:limit]:
        chosen = next(c for c in case.candidates if c["permalink_url"] == out.url)
        right = describe(case.candidates[case.right]) if case.right is not None else "none"
        print(f"  {source(case)} [{case.split}]\n      took {case.kind_of(out.url)} {describe(chosen)} "
              f"at {out.confidence or 0:.2f}\n      right: {right}")
    print(f"\nresolver misses: tracks with a right candidate not accepted ({len(missed)}):")
    for case, out in missed[:limit]:
        assert case.right is not None
        print(f"  {source(case)} [{case.split}] -> {out.status}\n      {out.note}\n"
              f"      right ({case.kinds[case.right]}): {describe(case.candidates[case.right])}")


if __name__ == "__main__":
    sys.exit(main())
