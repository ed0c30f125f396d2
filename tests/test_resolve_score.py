"""Normalization and scoring of search hits: every trap that must not be auto-accepted, and
the plain right answers that must be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cratefile.errors import ManifestError
from cratefile.resolve import Decision, Wanted
from cratefile.resolve.book import MatchBook
from cratefile.resolve.hits import Hit
from cratefile.resolve.normalize import fold, fold_account, numbering, parse_title, parse_upload, split_artists
from cratefile.resolve.score import decide, load_rules

RULES = load_rules()
N = iter(range(1, 10_000))


def hit(title: str, uploader: str, seconds: float | None, **kw: Any) -> Hit:
    n = next(N)
    kw.setdefault("full_duration", seconds)
    return Hit(url=f"https://soundcloud.com/u{n}/t{n}", key=f"soundcloud {n}", title=title, uploader=uploader,
               duration=seconds, **kw)


def want(title: str, *artists: str, seconds: float | None = 400.0, **kw: Any) -> Wanted:
    return Wanted("spotify:track:" + "A" * 22, title, artists, duration=seconds, **kw)


# ---- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "base", "versions"), [
    ("Losing It - Extended Mix", "losing it", {"extended"}),
    ("Losing It (Original Mix)", "losing it", set()),
    ("Losing It (Kölsch Remix) [FREE DL]", "losing it", {"remix"}),
    ("Strobe - Radio Edit", "strobe", {"radio edit"}),
    ("Song (feat. Jane Doe)", "song", set()),
    ("Song (sped up)", "song", {"sped up"}),
    ("Never Gonna Give You Up (Karaoke Version)", "never gonna give you up", {"karaoke"}),
    ("Gecko (Overdrive) - Radio Edit", "gecko overdrive", {"radio edit"}),  # a title's own brackets stay
    ("Live Forever", "live forever", set()),  # a word of the title is not a version
    ("Aura [Club Mix]", "aura", {"club mix"}),
    ("Heroes - 2017 Remaster", "heroes", set()),  # Spotify's suffixes that name no other recording
    ("Heroes (Remastered 2011)", "heroes", set()),
    ("Heroes - Single Version", "heroes", set()),
    ("Heroes - From \"Stranger Things\"", "heroes", set()),
    ("Heroes - Live at Wembley 1986", "heroes", {"live"}),
    ("Part 1 - The Beginning", "part 1 the beginning", set()),  # a dash that is the title's own
])
def test_titles_come_apart_into_base_and_version(title: str, base: str, versions: set[str]) -> None:
    parsed = parse_title(title)
    assert (parsed.base, set(parsed.versions)) == (base, versions)


def test_remixers_featured_artists_and_names_fold() -> None:
    assert parse_title("Opus (Four Tet Remix)").remixers == ("four tet",)
    assert "jane doe" in parse_title("Song (feat. Jane Doe)").credited
    assert split_artists("Disclosure & Sam Smith feat. Lorde") == ("disclosure", "sam smith", "lorde")
    assert split_artists("The Chemical Brothers, Burial (2)") == ("chemical brothers", "burial")
    assert fold("Röyksopp – Ævestra!") == "royksopp aevestra"
    assert fold_account("FISHER Official") == "fisher" and fold_account("Ben Böhmer Music") == "ben bohmer"
    assert numbering("strings pt 2") == {"2"} and numbering("dopamine ii") == {"2"}
    assert numbering("signal part two") == {"2"} and numbering("strings") == set()
    assert numbering("summer 2019") == set() and numbering("1999") == set()  # years are no part numbers


def test_an_upload_names_its_artist_in_the_title_or_its_metadata() -> None:
    assert parse_upload("FISHER - Losing It (Extended Mix)", "Catch & Release").artists == ("fisher",)
    assert parse_upload("Losing It", "Catch & Release", "FISHER").artists == ("fisher",)
    assert parse_upload("Exhale - VIP", "Four Tet").artists == ("four tet",)  # 'Title - VIP' names no artist


# ---- decisions ----------------------------------------------------------------------------


def test_the_labels_upload_is_matched_over_a_more_popular_remix() -> None:
    w = want("Losing It - Extended Mix", "FISHER", seconds=365)
    right = hit("FISHER - Losing It (Extended Mix)", "Catch & Release", 366, artist="FISHER", label="Catch & Release")
    remix = hit("FISHER - Losing It (Chris Lake Remix)", "Chris Lake", 370, verified=True, plays=5_000_000)
    d = decide(w, [remix, right], RULES)
    assert (d.status, d.url) == ("matched", right.url)
    assert any("version differs" in r for r in d.candidates[1].reasons)


@pytest.mark.parametrize("trap", [
    hit("FISHER - Losing It (Radio Edit)", "FISHER", 190, verified=True),  # another version
    hit("Losing It (Extended Mix)", "FISHER", 30, full_duration=365, policy="SNIP", verified=True),  # a preview
    hit("FISHER - Losing It (Extended Mix) [FREE DL]", "xx_rips_xx", 365, plays=2_000_000),  # a stranger's upload
    hit("FISHER - Losing It (Extended Mix)", "FISHER", 300, verified=True),  # another length
    hit("Losing It Pt. 2 (Extended Mix)", "FISHER", 365, verified=True),  # a sequel
    hit("Losing It Part Two (Extended Mix)", "FISHER Music", None, verified=True),  # a sequel, no length
    hit("Losing It (Extended Mix)", "Other Artist", 365, verified=True),  # another artist's track
    hit("FISHER - Losing It (Extended Mix)", "Label", 365, label="Label", isrc="XX0000000001"),  # another ISRC
    hit("FISHER @ Tomorrowland 2024 (DJ Mix) [incl. Losing It]", "FISHER", 3600, verified=True),  # a set
])
def test_no_trap_is_accepted(trap: Hit) -> None:
    w = want("Losing It - Extended Mix", "FISHER", seconds=365, isrc="AUUM71800123")
    d = decide(w, [trap], RULES)
    assert d.status in ("review", "unmatched") and d.url is None, d.candidates[0].reasons


def test_a_preview_is_reported_as_preview_only() -> None:
    w = want("Opus", "Eric Prydz", seconds=540)
    d = decide(w, [hit("Opus", "Eric Prydz", 30, full_duration=540, policy="SNIP", verified=True)], RULES)
    assert (d.status, d.note) == ("review", "preview only") and not d.candidates[0].usable


def test_an_agreeing_isrc_identifies_a_label_upload_that_names_no_artist() -> None:
    w = want("Désolé - Extended Mix", "Lane 8", seconds=396, isrc="GB-AAA-26-00001")
    plain = hit("Désolé", "Knee Deep In Sound", 395, verified=True, isrc="GBAAA2600001")
    assert decide(w, [plain], RULES).status == "matched"
    assert decide(w, [plain], load_rules(accept=0.995)).status == "review"  # the bar is a setting


def test_a_stated_original_is_not_a_club_mix_of_the_same_length() -> None:
    w = want("Aura - Club Mix", "Chris Stussy", seconds=468)
    original = hit("Chris Stussy - Aura (Original Mix)", "Chris Stussy", 468, verified=True)
    assert decide(w, [original], RULES).status == "review"
    bare = hit("Chris Stussy - Aura", "Chris Stussy", 468, verified=True)
    assert decide(want("Aura - Extended Mix", "Chris Stussy", seconds=468), [bare], RULES).status == "matched"


def test_two_different_recordings_that_score_alike_go_to_review() -> None:
    w = want("Parallel", "Boris Brejcha", seconds=None)
    a = hit("Parallel", "Boris Brejcha", 470, verified=True)
    b = hit("Parallel", "Boris Brejcha", 610, verified=True)  # no wanted length to tell them apart
    d = decide(w, [a, b], RULES)
    assert d.status == "review" and "score alike" in (d.note or "")
    same = hit("Boris Brejcha - Parallel", "Ninja Tune", 468, label="Ninja Tune")  # the label's copy of a
    assert decide(w, [a, same], RULES).status == "matched"


def test_nothing_found_is_unmatched() -> None:
    assert decide(want("Nothing", "Nobody"), [], RULES).status == "unmatched"


# ---- rules, the book -----------------------------------------------------------------------


def test_a_workspace_rules_file_overrides_and_is_checked_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "matching.yaml").write_text("weights: {artist: 0.5}\ncaps: {uploader: 0.8}\n")
    rules = load_rules(tmp_path)
    assert (rules.w_artist, rules.w_title, rules.cap_uploader) == (0.5, 0.35, 0.8)
    (tmp_path / "rules" / "matching.yaml").write_text("accept: 0.9\nweigths: {artist: 2}\n")
    with pytest.raises(ManifestError, match=r"rules/matching.yaml:2.*weigths"):
        load_rules(tmp_path)


def test_two_books_saving_at_once_keep_each_others_entries(tmp_path: Path) -> None:
    a, b = MatchBook.of(tmp_path, tmp_path / "cache"), MatchBook.of(tmp_path, tmp_path / "cache")
    a.record(Decision("spotify:track:" + "A" * 22, "matched", "https://soundcloud.com/a/1", "soundcloud 1", 0.97, 1.0))
    b.record(Decision("spotify:track:" + "B" * 22, "review", confidence=0.7, decided_at=1.0))
    b.reject("spotify:track:" + "B" * 22, ["https://soundcloud.com/x/9"])
    a.save()
    b.save()
    lock = json.loads((tmp_path / "playlists.lock").read_text())
    assert list(lock["matches"]) == ["spotify:track:" + "A" * 22]
    assert lock["rejected"] == {"spotify:track:" + "B" * 22: ["https://soundcloud.com/x/9"]}
    fresh = MatchBook.of(tmp_path, tmp_path / "cache")
    assert fresh.settled("spotify:track:" + "A" * 22) is not None
    assert fresh.pending("spotify:track:" + "B" * 22, ttl=10.0, now=5.0) is not None
    assert fresh.pending("spotify:track:" + "B" * 22, ttl=10.0, now=50.0) is None  # past its ttl: searched again


def test_an_upload_naming_only_the_main_artist_matches_one_naming_a_stranger_does_not() -> None:
    w = want("Rain", "Kerri Chandler", "J. Sydenham", seconds=310)
    main_only = hit("Kerri Chandler - Rain", "Kerri Chandler", 311, verified=True, plays=90_000)
    assert decide(w, [main_only], RULES).status == "matched"
    stranger = hit("Kerri Chandler & Jamie Jones - Rain", "Kerri Chandler", 311, verified=True, plays=90_000)
    assert decide(w, [stranger], RULES).status == "review"


@pytest.mark.timeout(30)  # a regular expression that backtracks on such input would hang here
def test_hostile_titles_are_cut_and_scored() -> None:
    raw = {"kind": "track", "id": 7, "permalink_url": "https://soundcloud.com/a/b",
           "title": "(" * 50_000 + "x" * 50_000, "user": {"username": "remix " * 20_000}, "duration": 1000}
    h = Hit.from_api(raw)
    assert h is not None and len(h.title) <= 300 and len(h.uploader) <= 300
    assert decide(want("Song (" + "Remix " * 50 + ")", "Artist"), [h], RULES).status == "unmatched"
    assert Hit.from_api({"kind": "playlist", "id": 1}) is None and Hit.from_api({"id": "x"}) is None


def test_a_remix_uploaded_by_its_remixer_alone_matches() -> None:
    w = want("Opus - Four Tet Remix", "Eric Prydz", "Four Tet", seconds=420)
    by_remixer = hit("Opus (Four Tet Remix)", "Four Tet", 421, verified=True, plays=400_000)
    assert decide(w, [by_remixer], RULES).status == "matched"
    other = hit("Opus (Tale Of Us Remix)", "Tale Of Us", 421, verified=True, plays=400_000)
    assert decide(w, [other], RULES).status != "matched"
