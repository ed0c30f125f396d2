"""File names: hostile titles made safe everywhere, templates, unique and stable stems."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from cratefile.naming import (
    assign_around,
    assign_names,
    cut_utf8,
    fixed_folds,
    fold,
    render_name,
    safe_component,
)
from cratefile.records import NamingRule

RULE = NamingRule()
WINDOWS_DEVICES = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.I)

HOSTILE = [
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "x" * 400,
    "é" * 400,
    "🎧" * 400,
    "CON",
    "con.wav",
    "NUL",
    "lpt1.tar.gz",
    "Com¹",
    "AUX ",
    "🎛️ Deep 👩‍🎤 Tïtle 🇫🇷",
    "  ..leading and trailing..  ",
    "",
    "...",
    ".",
    "..",
    ' <>:"|?* ',
    "line\nbreak\ttab\r",
    "\u202eevil\u202c.exe",
    "-rf",
    "e\u0301te\u0301",  # NFD
]


def assert_safe(stem: str, max_bytes: int) -> None:
    assert stem, "never empty"
    assert len(stem.encode("utf-8")) <= max_bytes
    assert "/" not in stem and "\\" not in stem
    assert not any(ch in stem for ch in '<>:"|?*')
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in stem)
    assert stem.strip(".") != "", "not only dots"
    assert stem[0] not in ". -" and stem[-1] not in ". "
    assert not WINDOWS_DEVICES.match(stem), stem
    assert not WINDOWS_DEVICES.match(stem + ".wav"), stem
    assert stem == unicodedata.normalize("NFC", stem)


@pytest.mark.parametrize("title", HOSTILE)
@pytest.mark.parametrize("max_bytes", [150, 40])
def test_hostile_titles_make_safe_names(title: str, max_bytes: int) -> None:
    rule = NamingRule(max_length=max_bytes)
    for fields in ({"artist": "DJ", "title": title}, {"artist": title, "title": title}):
        assert_safe(render_name(rule, fields), max_bytes)
    assert_safe(safe_component(title, max_bytes), max_bytes)


@pytest.mark.parametrize("title", HOSTILE)
def test_safe_component_is_idempotent(title: str) -> None:
    once = safe_component(title, 60)
    assert safe_component(once, 60) == once


def test_specific_hostile_results() -> None:
    assert safe_component("../../etc/passwd", 150) == "etc-passwd"
    assert safe_component("a/b", 150) == "a-b"
    assert safe_component("a\\b", 150) == "a-b"
    assert safe_component("CON", 150) == "CON_"
    assert safe_component("con.wav", 150) == "con_.wav"
    assert safe_component("nul\x00byte", 150) == "nul byte"
    assert safe_component("...", 150) == "_"
    assert safe_component("e\u0301", 150) == "\u00e9"
    assert render_name(RULE, {"artist": "DJ", "title": "../../etc/passwd"}) == "DJ - etc-passwd"
    assert render_name(RULE, {"artist": "DJ", "title": "CON"}) == "DJ - CON"


def test_missing_or_empty_artist_and_title_use_fallbacks() -> None:
    assert render_name(RULE, {}) == "Unknown Artist - Untitled"
    assert render_name(RULE, {"artist": "  ", "title": "..."}) == "Unknown Artist - Untitled"
    assert render_name(RULE, {"artist": None, "title": "Song"}) == "Unknown Artist - Song"


def test_empty_optional_fields_take_their_punctuation_with_them() -> None:
    rule = NamingRule(template="{artist} - {title} [{key}] ({bpm})")
    assert render_name(rule, {"artist": "A", "title": "T"}) == "A - T"
    assert render_name(rule, {"artist": "A", "title": "T", "key": "8A", "bpm": 128.0}) == (
        "A - T [8A] (128)"
    )
    assert render_name(rule, {"artist": "A", "title": "T", "bpm": 127.5}) == "A - T (127.5)"
    lead = NamingRule(template="{key} - {bpm:.0f} - {artist} - {title}")
    assert render_name(lead, {"artist": "A", "title": "T"}) == "A - T"
    assert render_name(lead, {"artist": "A", "title": "T", "bpm": 127.6}) == "128 - A - T"
    only_key = NamingRule(template="{key}")
    assert render_name(only_key, {}) == "Untitled"


def test_length_cut_keeps_characters_and_emoji_whole() -> None:
    family = "👨‍👩‍👧"  # 18 bytes: three people joined by ZWJ
    flag = "🇫🇷"  # two regional indicators
    for unit in (family, flag, "é", "e\u0301", "🎛️", "👍🏽"):
        text = unicodedata.normalize("NFC", unit) * 50
        for limit in range(8, 60):
            cut = safe_component(text, limit)
            assert len(cut.encode()) <= limit
            assert len(cut) % len(unicodedata.normalize("NFC", unit)) == 0 or cut == "_"
    assert cut_utf8("ab" + family, 10) == "ab"
    assert cut_utf8("ab" + family, 20) == "ab" + family


def test_long_names_stay_within_max_length_in_bytes() -> None:
    stem = render_name(RULE, {"artist": "Ärtist", "title": "ü" * 400})
    assert len(stem.encode()) <= RULE.max_length
    assert stem.startswith("Ärtist - üüü")


def test_same_name_twice_gets_stable_suffixes() -> None:
    names = assign_names({"soundcloud 111": "A - Song", "soundcloud 222": "A - Song"})
    assert names == {"soundcloud 111": "A - Song [sc-111]", "soundcloud 222": "A - Song [sc-222]"}
    # Stable: the same input always yields the same names, whatever the order.
    again = assign_names({"soundcloud 222": "A - Song", "soundcloud 111": "A - Song"})
    assert again == names


def test_collisions_are_case_insensitive() -> None:
    names = assign_names({"youtube abc": "Intro", "youtube xyz": "INTRO", "youtube q": "Outro"})
    assert names == {
        "youtube abc": "Intro [yt-abc]",
        "youtube xyz": "INTRO [yt-xyz]",
        "youtube q": "Outro",
    }
    assert len({fold(n) for n in names.values()}) == 3


def test_adding_a_colliding_track_renames_nobody() -> None:
    first = assign_names({"soundcloud 1": "Dub", "soundcloud 2": "dub"})
    wanted = {"soundcloud 1": "Dub", "soundcloud 2": "dub", "soundcloud 3": "DUB"}
    second = assign_names(wanted, previous=first)
    assert {k: second[k] for k in first} == first
    assert second["soundcloud 3"] == "DUB [sc-3]"

    alone = assign_names({"soundcloud 1": "Solo"})
    assert alone == {"soundcloud 1": "Solo"}
    later = assign_names({"soundcloud 1": "Solo", "soundcloud 9": "Solo"}, previous=alone)
    assert later == {"soundcloud 1": "Solo", "soundcloud 9": "Solo [sc-9]"}
    # Without history the names are derived from keys alone.
    assert assign_names({"soundcloud 1": "Solo", "soundcloud 9": "Solo"}) == {
        "soundcloud 1": "Solo [sc-1]",
        "soundcloud 9": "Solo [sc-9]",
    }


def test_a_changed_title_drops_the_stale_previous_name() -> None:
    names = assign_names({"soundcloud 1": "New Title"}, previous={"soundcloud 1": "Old Title"})
    assert names == {"soundcloud 1": "New Title"}


def test_suffixed_names_stay_within_max_length() -> None:
    long = "Ω" * 200
    names = assign_names({"soundcloud 123456": long, "soundcloud 654321": long}, max_bytes=60)
    for key, name in names.items():
        assert len(name.encode()) <= 60
        assert name.endswith(f" [sc-{key.split()[1]}]")
    assert len(set(names.values())) == 2


def test_keys_that_fold_to_the_same_tag_still_get_unique_names() -> None:
    # YouTube ids are case-sensitive; the readable suffixes collide case-insensitively.
    wanted = {"youtube AbC": "Same", "youtube abc": "Same", "youtube ABC": "Same"}
    names = assign_names(wanted)
    assert len({fold(n) for n in names.values()}) == 3
    assert names == assign_names(dict(reversed(list(wanted.items()))))


def test_a_title_that_looks_like_a_suffix_cannot_steal_a_name() -> None:
    wanted = {"soundcloud 1": "X", "soundcloud 2": "X", "soundcloud 3": "X [sc-1]"}
    names = assign_names(wanted)
    assert len({fold(n) for n in names.values()}) == 3
    assert names["soundcloud 3"] == "X [sc-1]"
    assert names["soundcloud 1"] != "X [sc-1]"


def test_assign_names_is_deterministic_and_unique_at_scale() -> None:
    rng = random.Random(7)
    titles = ["Intro", "intro", "INTRO", "Dub", "Dub ", "Dub.", "CON", "Ωmega", "ωmega"]
    wanted = {f"soundcloud {n}": rng.choice(titles) for n in range(200)}
    names = assign_names(wanted)
    assert len({fold(n) for n in names.values()}) == len(wanted)
    shuffled = list(wanted.items())
    rng.shuffle(shuffled)
    assert assign_names(dict(shuffled)) == names
    for name in names.values():
        assert_safe(name, RULE.max_length)
    grown = dict(wanted, **{f"soundcloud {n}": rng.choice(titles) for n in range(200, 260)})
    regrown = assign_names(grown, previous=names)
    assert {k: regrown[k] for k in names} == names
    assert len({fold(n) for n in regrown.values()}) == len(grown)


def test_safe_component_refuses_absurd_limits() -> None:
    with pytest.raises(ValueError):
        safe_component("x", 3)


@pytest.mark.parametrize("seed", range(40))
def test_naming_the_changed_tracks_around_the_settled_ones_gives_what_assign_names_gives(seed: int) -> None:
    """engine/fastpath names the few unsettled tracks of a large library around the settled ones
    (assign_around): each time it answers, the answer is assign_names' over the whole library."""
    rng = random.Random(seed)
    stems = ["Artist - Title", "artist - title", "Other - Song", "Émile - Café", "Emile - Cafe", "X - Y"]
    keys = [f"soundcloud {rng.randrange(10**6)}" for _ in range(rng.randrange(3, 14))]
    keys = list(dict.fromkeys(keys))
    plain = {k: safe_component(rng.choice(stems), 40) for k in keys}
    first = assign_names(plain, max_bytes=40)  # a library named once
    settled = {k for k in keys if rng.random() < 0.6}
    fixed = {k: first[k] for k in settled}
    fixed_plain = {k: plain[k] for k in settled}
    wanted = {k: rng.choice(stems) if rng.random() < 0.5 else plain[k] for k in keys if k not in settled}
    previous = {k: first[k] for k in wanted if rng.random() < 0.7}
    if rng.random() < 0.3 and wanted and fixed:  # a changed track whose old file name is a settled one's
        previous[next(iter(wanted))] = next(iter(fixed.values()))
    around = assign_around(wanted, previous, fixed, fixed_plain, max_bytes=40)
    # the folds of the settled ones worked out beforehand (as engine/fastpath keeps them) change nothing
    assert assign_around(wanted, previous, fixed, fixed_plain, max_bytes=40,
                         folds=fixed_folds(fixed, fixed_plain)) == around
    whole = assign_names({**fixed_plain, **wanted}, {**fixed, **previous}, max_bytes=40, settled=settled)
    if around is None:
        assert any(fold(previous.get(k, "")) in {fold(n) for n in fixed.values()} for k in wanted)
        return
    assert around == {k: whole[k] for k in wanted}
    assert all(whole[k] == fixed[k] for k in fixed)
