"""The labeled candidate set of bench/matching.py: source tracks as `Wanted` (Spotify-like and
Discogs-like) with the search results a SoundCloud search would plausibly return for them, as raw
api-v2 track objects, each candidate labeled.

Generated, not hand-typed: templates over pools of real-sounding artists, titles, labels and
uploaders, from a fixed seed, so the set is the same on every run. It was written from the
issue's list of traps, before the resolver's scoring existed, and is not tuned to it.

What counts as right (the labels):
- the same recording in the same version, full length, uploaded by the artist, a credited
  co-artist or remixer, or a label (a label upload titled 'Artist - Title' is fine);
- a typo in an otherwise right upload's title keeps it right;
- never right: another version (remix, extended, radio edit, VIP, edit, bootleg, live, dub,
  sped up, cover, karaoke, club mix), a Go+ preview (policy SNIP, 30 s), a re-upload by an
  account that is neither artist nor label (same title, unknown audio: rips, pitched, tagged),
  a DJ mix or podcast naming the track, the same title by another artist, an upload of the
  right name whose length is far from the source's, one whose ISRC contradicts the source's,
  and another track of the same artist with a similar title (Pt. 2).
About 15 % of the sources have no right candidate at all; some of those have only a preview.
Candidates are in search order: most query words found first, ties by plays, so popular
remixes and re-uploads often come before the original, as on the real site.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from cratefile.resolve import Wanted

SEED = 20261202
CASES = 200
TEST_SHARE = 0.2  # the held-out part (--split test)
NO_RIGHT_SHARE = 0.15

ARTISTS = [
    "Adam Beyer", "Âme", "Amelie Lens", "ARTBAT", "Bicep", "Boris Brejcha", "Charlotte de Witte",
    "Dixon", "DJ Koze", "Enrico Sangiuliano", "Four Tet", "Fred again..", "HI-LO", "Jamie Jones",
    "Kölsch", "Maceo Plex", "Mathame", "Nina Kraviz", "Peggy Gou", "Recondite", "Röyksopp",
    "RÜFÜS DU SOL", "Sébastien Léger", "Solomun", "Stephan Bodzin", "Tale Of Us", "The Blessed Madonna",
    "The Chemical Brothers", "The Martinez Brothers", "Dennis Cruz", "Anyma", "Joris Voorn",
    "Paula Temple", "Reinier Zonneveld", "Sven Väth", "Mind Against", "Kevin de Vries", "Agents Of Time",
    "Monolink", "Innellea", "Tinlicker", "Lane 8", "Ben Böhmer", "Yotto", "Hernán Cattáneo",
    "Chris Stussy", "Mochakk", "Fisher", "Ilario Alicante", "Øostil",
]
DISCOGS_SUFFIXED = {"Dixon": "Dixon (2)", "Recondite": "Recondite (2)", "HI-LO": "HI-LO (3)",
                    "Innellea": "Innellea (2)", "Fisher": "Fisher (19)", "Yotto": "Yotto (2)"}
FEATURED = ["Troels Abrahamsen", "Jan Blomqvist", "Mariana Bo", "Ella Eyre", "Nathan Nicholson",
            "Lazarusman", "Sam Shure", "Camelia", "Kiko Franco", "Raphaëlle"]
REMIXERS = ["Kevin de Vries", "Mathame", "Innellea", "Agents Of Time", "Tinlicker", "Massano",
            "Stephan Bodzin", "Dennis Cruz", "Joris Voorn", "Anyma", "ARTBAT", "Keinemusik", "Âme",
            "Patrice Bäumel", "Colyn", "Adriatique", "Vintage Culture", "CamelPhat"]
TITLES = [
    "Home", "Strings", "Patterns", "Closer", "Atlas", "Glue", "Innerbloom", "Opus", "Grey", "Lose Control",
    "Age Of Love", "Vortex", "Teardrops", "Exhale", "Rain", "Sunrise", "Afterglow", "Hydra", "Parallel",
    "Momentum", "Eclipse", "Nocturne", "Resonance", "Tides", "Hold On", "Into The Wild", "Last Night",
    "Lost In Time", "Space Date", "The Message", "Body Language", "Nightfall", "Reflections", "Aura",
    "Echoes", "Gravity", "Dopamine", "Monsoon", "Yeah Yeah", "Feel It", "Ritual", "Cascade",
    "Crystal Clear", "Deep Inside", "Signal", "Neon Lights", "Mirage", "Solstice", "Voyager",
    "Kaleidoscope", "Sleepless", "Café Del Mar", "Señorita", "Naïve", "Désolé",
]
LABELS = ["Drumcode", "Afterlife", "Innervisions", "Diynamic", "Anjunadeep", "Kompakt", "Ninja Tune",
          "Warp Records", "Defected Records", "Hot Creations", "Cercle", "Kntxt", "Stil vor Talent",
          "Toolroom", "Knee Deep In Sound", "Lost & Found", "Watergate Records", "Siamese"]
RANDOMS = ["Techno Bunker", "deep house nation", "xXbassheadXx", "Melodic Techno Vibes", "rave archive",
           "user-839201774", "FREE TECHNO DL", "Underground Selections", "djkev_88", "Sounds Of Berlin",
           "Minimal Lovers", "house music all night", "Tech House Daily", "Organic Grooves", "TRACK ID please"]
SHOWS = ["Drumcode Radio", "Anjunadeep Edition", "Afterlife Voyage", "Clubbing Sessions", "Tomorrowland Radio",
         "Selected Sounds", "Transitions", "Resident Advisor Podcast"]
VENUES = ["Boiler Room Berlin", "Printworks London", "Cercle Paris", "Awakenings", "DC10 Ibiza",
          "Berghain", "Zamna Tulum", "Hï Ibiza"]
SINGERS = ["Anna Keys", "Luca Covers", "acoustic mia", "Sofia Sings"]
KARAOKE = ["Karaoke Hits Co", "Sing King Karaoke", "Backing Tracks Pro"]

# version of the source -> how Spotify writes it (' - ...') and how a SoundCloud title writes it
VERSIONS = {
    "extended": "Extended Mix", "radio_edit": "Radio Edit", "vip": "VIP", "edit": "Edit", "dub": "Dub",
    "live": "Live", "club_mix": "Club Mix",
}


@dataclass(frozen=True)
class Case:
    """One source track, its search results in order, and what is right among them."""

    n: int
    wanted: Wanted
    candidates: tuple[dict[str, Any], ...]  # raw api-v2 track objects, in search order
    kinds: tuple[str, ...]  # per candidate: 'right:artist', 'right:label', 'version:remix', 'preview', ...
    acceptable: frozenset[int]  # indices of the candidates that are the right recording
    traps: frozenset[str]  # what makes this case hard: the wrong kinds present, and source quirks
    split: str  # 'tune' | 'test'

    @property
    def right(self) -> int | None:
        """The first right candidate in search order, or None when none is acceptable."""
        return min(self.acceptable) if self.acceptable else None

    def is_right(self, url: str | None) -> bool:
        return url is not None and any(self.candidates[i]["permalink_url"] == url for i in self.acceptable)

    def kind_of(self, url: str | None) -> str:
        return next((k for c, k in zip(self.candidates, self.kinds, strict=True) if c["permalink_url"] == url),
                    "not a candidate")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _fold(text).lower()).strip("-") or "x"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", _fold(text).casefold()))


class _Builder:
    """One case at a time: the source, then its candidates, from the shared random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 1_700_000_000
        self.accounts: dict[str, dict[str, Any]] = {}  # per case: one account per name

    def new_case(self) -> None:
        self.accounts = {}

    # ---- accounts --------------------------------------------------------------------------

    def user(self, name: str, *, verified: bool = False, followers: int = 0) -> dict[str, Any]:
        if name in self.accounts:
            return self.accounts[name]
        permalink = _slug(name).replace("-", "") if self.rng.random() < 0.4 else _slug(name)
        self.accounts[name] = {"username": name, "permalink": permalink, "verified": verified,
                               "badges": {"verified": verified, "pro": False}, "followers_count": followers,
                               "kind": "user", "id": 10_000 + sum(map(ord, name)) * 7 % 900_000}
        return self.accounts[name]

    def artist_account(self, artist: str) -> dict[str, Any]:
        """The artist's own account, under one of the names artists really use."""
        if f"artist:{artist}" in self.accounts:
            return self.accounts[f"artist:{artist}"]
        r = self.rng.random()
        name = (artist if r < 0.45 else _fold(artist) if r < 0.6 else artist.removeprefix("The ") if r < 0.7
                else artist.upper() if r < 0.78 else artist.lower() if r < 0.86 else f"{artist} Official"
                if r < 0.93 else f"{artist} Music")
        account = self.user(name, verified=self.rng.random() < 0.6, followers=self.rng.randint(20_000, 2_000_000))
        self.accounts[f"artist:{artist}"] = account
        return account

    def label_account(self, label: str) -> dict[str, Any]:
        return self.user(label, verified=self.rng.random() < 0.5, followers=self.rng.randint(50_000, 3_000_000))

    def random_account(self) -> dict[str, Any]:
        return self.user(self.rng.choice(RANDOMS), followers=self.rng.randint(10, 120_000))

    # ---- one candidate -----------------------------------------------------------------------

    def track(self, title: str, user: dict[str, Any], seconds: float, *, plays: int, artist: str | None = None,
              isrc: str | None = None, release: str | None = None, label: str | None = None,
              preview: bool = False) -> dict[str, Any]:
        self.next_id += self.rng.randint(1, 9000)
        ms = round(seconds * 1000)
        meta: dict[str, Any] = {"id": self.next_id, "contains_music": True}
        if artist is not None:
            meta["artist"] = artist
        if isrc is not None:
            meta["isrc"] = isrc
        if release is not None:
            meta["release_title"] = release
        return {
            "kind": "track", "id": self.next_id, "title": title, "user": user,
            "duration": 30000 if preview else ms, "full_duration": ms,
            "policy": "SNIP" if preview else self.rng.choice(["ALLOW", "ALLOW", "MONETIZE"]),
            "monetization_model": "SUB_HIGH_TIER" if preview else "NOT_APPLICABLE",
            "playback_count": plays, "likes_count": plays // self.rng.randint(20, 80),
            "publisher_metadata": meta, "label_name": label, "genre": self.rng.choice(["Techno", "House",
                                                                                       "Melodic Techno", None]),
            "permalink_url": f"https://soundcloud.com/{user['permalink']}/{_slug(title)}-{self.next_id}",
            "uri": f"https://api.soundcloud.com/tracks/{self.next_id}",
        }

    def plays(self, low: int = 500, high: int = 2_000_000) -> int:
        return int(self.rng.lognormvariate(0, 1.2) * self.rng.randint(low, max(low, high // 8)))


def _isrc(rng: random.Random) -> str:
    return f"{rng.choice(['DE', 'GB', 'NL', 'BE', 'US', 'SE'])}{rng.choice(['A6Z', 'DCR', 'KN4', 'UM7'])}" \
           f"{rng.randint(18, 25)}{rng.randint(0, 99999):05d}"


def _typo(rng: random.Random, text: str) -> str:
    """One plausible slip: a doubled, dropped or swapped letter in the longest word."""
    words = text.split(" ")
    i = max(range(len(words)), key=lambda j: len(words[j]))
    w = words[i]
    if len(w) < 4:
        return text + "e"
    k = rng.randint(1, len(w) - 2)
    words[i] = rng.choice([w[:k] + w[k] + w[k:], w[:k] + w[k + 1:], w[:k] + w[k + 1] + w[k] + w[k + 2:]])
    return " ".join(words)


def build_case(n: int, rng: random.Random, b: _Builder, *, has_right: bool, split: str) -> Case:
    b.new_case()
    style = "spotify" if rng.random() < 0.6 else "discogs"
    artist = rng.choice(ARTISTS)
    title = rng.choice(TITLES)
    traps: set[str] = set()
    # ---- the source --------------------------------------------------------------------------
    second: str | None = None
    joiner = ""
    featured: str | None = None
    r = rng.random()
    if r < 0.12:
        featured = rng.choice(FEATURED)
        traps.add("feat")
    elif r < 0.27:
        second = rng.choice([a for a in ARTISTS if a != artist])
        joiner = rng.choice([" & ", " x ", " and ", ", "])
        traps.add("multi_artist")
    version = rng.choices(["original", "remix", "extended", "radio_edit", "vip", "edit", "dub", "live", "club_mix"],
                          [46, 22, 10, 7, 3, 3, 4, 2, 3])[0]
    remixer = rng.choice([x for x in REMIXERS if x not in (artist, second)]) if version == "remix" else None
    base = rng.uniform(320, 470)
    seconds = {"radio_edit": rng.uniform(175, 235), "extended": base * rng.uniform(1.1, 1.3),
               "edit": rng.uniform(200, 260), "live": base + rng.uniform(40, 160)}.get(version, base)
    label = rng.choice(LABELS)
    vtext = f"{remixer} Remix" if remixer else VERSIONS.get(version, "")
    spotify_extra: tuple[str, ...] = ()
    if style == "spotify":
        stitle = title
        if featured:
            stitle += f" (feat. {featured})"
        if version == "original":
            if rng.random() < 0.35:
                stitle += " - Original Mix"
                traps.add("original_mix")
        else:
            stitle += f" - {vtext}"
        artists = tuple(filter(None, [artist, second, featured]))
        if remixer and rng.random() < 0.5:
            spotify_extra = (remixer,)
        isrc = _isrc(rng) if rng.random() < 0.9 else None
        wanted = Wanted(source_id=f"spotify:track:{n:022d}", title=stitle, artists=artists + spotify_extra,
                        album=rng.choice([None, f"{title} EP", f"{label} Presents Vol. {rng.randint(1, 9)}"]),
                        duration=round(seconds, 3), isrc=isrc, url=f"https://open.spotify.com/track/{n:022d}",
                        popularity=rng.choice([None, rng.randint(5, 70)]))
    else:
        dtitle = title
        remixers: tuple[str, ...] = ()
        if version == "original":
            if rng.random() < 0.5:
                dtitle += " (Original Mix)"
                traps.add("original_mix")
        elif remixer and rng.random() < 0.35:
            remixers = (remixer,)  # credited only among the extra artists; the title says nothing
            traps.add("remixer_credit_only")
        else:
            dtitle += f" ({vtext})"
        if featured:
            dtitle += f" (feat. {featured})" if rng.random() < 0.5 else ""
        names = [DISCOGS_SUFFIXED.get(a, a) if rng.random() < 0.5 else a for a in filter(None, [artist, second])]
        if any(re.search(r" \(\d+\)$", a) for a in names):
            traps.add("discogs_suffix")
        has_duration = rng.random() < 0.5
        if not has_duration:
            traps.add("no_duration")
        wanted = Wanted(source_id=f"discogs:release:{100000 + n}:{rng.choice('AB')}{rng.randint(1, 3)}",
                        title=dtitle, artists=tuple(names), album=f"{title} EP", remixers=remixers,
                        duration=float(round(seconds)) if has_duration else None, isrc=None,
                        url=f"https://www.discogs.com/release/{100000 + n}", position="A1")
        isrc = None
    if any(_fold(a) != a for a in (artist, second or "", title)):
        traps.add("diacritics")
    if artist.startswith("The ") or (second or "").startswith("The "):
        traps.add("the_article")

    # ---- how candidates name the track -------------------------------------------------------
    def credit() -> str:
        if second:
            j = rng.choice([joiner, " & ", " x ", ", "])
            return f"{artist}{j}{second}"
        return artist

    def named(version_text: str, *, with_artist: bool, feat: bool = True, original_mix: bool | None = None) -> str:
        t = title
        if feat and featured and rng.random() < 0.7:  # uploads often leave the featured singer out
            t += rng.choice([f" (feat. {featured})", f" ft. {featured}", f" feat. {featured}"])
        if version_text:
            t += rng.choice([f" ({version_text})", f" [{version_text}]", f" - {version_text}"])
        elif original_mix if original_mix is not None else rng.random() < 0.3:
            t += " (Original Mix)"
        return f"{credit()} - {t}" if with_artist else t

    def near(s: float, spread: float = 2.0) -> float:
        return s + rng.uniform(-spread, spread)

    cands: list[tuple[dict[str, Any], str]] = []
    right_seconds = seconds
    # ---- the right ones ------------------------------------------------------------------------
    if has_right:
        uploader_kind = "remixer" if remixer and rng.random() < 0.5 else rng.choice(["artist", "artist", "label"])
        typo = rng.random() < 0.08
        if uploader_kind == "artist":
            user, with_artist = b.artist_account(artist), rng.random() < 0.4
        elif uploader_kind == "remixer":
            assert remixer is not None
            user, with_artist = b.artist_account(remixer), True
        else:
            user, with_artist = b.label_account(label), rng.random() < 0.8
            if with_artist:
                traps.add("artist_title_form")
        # only where the source's length can tell: without it, taking a bare title would be a guess
        bare = version in ("extended", "radio_edit", "dub") and wanted.duration is not None and rng.random() < 0.25
        t = named("" if bare else vtext, with_artist=with_artist, original_mix=False if bare else None)
        if bare:
            traps.add("right_without_version")  # right by its length, but the title does not say
        if typo:
            t = _typo(rng, t)
            traps.add("typo")
        agree = isrc is not None and rng.random() < 0.45
        if agree:
            traps.add("isrc_agree")
        pub_artist = credit() if rng.random() < 0.7 else None
        cands.append((b.track(t, user, near(seconds), plays=b.plays(), artist=pub_artist,
                              isrc=isrc if agree else None, release=f"{title} EP" if rng.random() < 0.5 else None,
                              label=label if uploader_kind == "label" else None), f"right:{uploader_kind}"))
        if rng.random() < 0.2:  # the label's upload too: both are right
            cands.append((b.track(named(vtext, with_artist=True), b.label_account(label), near(seconds),
                                  plays=b.plays(), artist=credit(), label=label,
                                  isrc=isrc if isrc and rng.random() < 0.5 else None), "right:label"))
    # ---- the traps -----------------------------------------------------------------------------
    other_versions = [v for v in ("remix", "extended", "radio_edit", "vip", "edit", "bootleg", "live", "dub",
                                  "sped_up", "cover", "karaoke", "club_mix", "original") if v != version]
    makers = ["version", "version", "version", "preview", "reupload", "reupload", "dj_mix", "podcast",
              "other_artist", "sequel", "wrong_duration", "isrc_conflict"]
    n_traps = rng.randint(4, 14) - len(cands)
    if not has_right:  # the hardest: what looks like the track, and is not
        first = rng.choice(["preview", "preview", "reupload", "wrong_duration", "version", "isrc_conflict"])
        picks = [first, *rng.choices(makers, k=max(3, n_traps))]
    else:
        picks = rng.choices(makers, k=max(4, n_traps))
    for maker in picks:
        if maker in ("wrong_duration", "isrc_conflict") and wanted.duration is None and isrc is None:
            maker = "reupload"
        if maker == "isrc_conflict" and isrc is None:
            maker = "wrong_duration" if wanted.duration is not None else "version"
        if maker == "wrong_duration" and wanted.duration is None:
            maker = "version"
        if maker == "version":
            v = rng.choice(other_versions)
            cands.append(_version_trap(b, rng, v, artist, title, base, named, remixer))
        elif maker == "preview":
            acct = b.label_account(label) if rng.random() < 0.6 else b.artist_account(artist)
            cands.append((b.track(named(vtext, with_artist=rng.random() < 0.6), acct, near(right_seconds),
                                  plays=b.plays(), artist=credit(), label=label, preview=True,
                                  isrc=isrc if isrc and rng.random() < 0.5 else None), "preview"))
        elif maker == "reupload":
            t = named(vtext, with_artist=True) + rng.choice(["", "", " [FREE DL]", " (HQ)", " | Melodic Techno"])
            cands.append((b.track(t, b.random_account(), near(right_seconds, 3), plays=b.plays(2000, 4_000_000),
                                  artist=credit() if rng.random() < 0.4 else None), "reupload"))
        elif maker == "dj_mix":
            dj = rng.choice([a for a in ARTISTS if a != artist])
            t = rng.choice([f"{dj} @ {rng.choice(VENUES)} (DJ Mix) [incl. {artist} - {title}]",
                            f"{dj} - {title} (DJ Mix)", f"{artist} - {title} | Live Set {rng.choice(VENUES)}"])
            cands.append((b.track(t, b.artist_account(dj), rng.uniform(3600, 7200), plays=b.plays(),
                                  artist=dj), "dj_mix"))
        elif maker == "podcast":
            show = rng.choice(SHOWS)
            t = f"{show} {rng.randint(100, 700)} | {artist} - {title} + more"
            cands.append((b.track(t, b.label_account(show), rng.uniform(3500, 7300), plays=b.plays()), "podcast"))
        elif maker == "other_artist":
            other = rng.choice([a for a in ARTISTS if a not in (artist, second)])
            cands.append((b.track(title + rng.choice(["", " (Original Mix)"]), b.artist_account(other),
                                  rng.uniform(300, 460), plays=b.plays(), artist=other), "other_artist"))
        elif maker == "sequel":
            t = f"{title} {rng.choice(['Pt. 2', 'II', 'Part Two', '2.0'])}"
            cands.append((b.track(t, b.artist_account(artist), rng.uniform(300, 460), plays=b.plays(),
                                  artist=artist), "other_track_same_artist"))
        elif maker == "wrong_duration":
            assert wanted.duration is not None
            off = rng.choice([rng.uniform(-170, -60), rng.uniform(45, 150), 95 - right_seconds])
            cands.append((b.track(named(vtext, with_artist=rng.random() < 0.3), b.artist_account(artist),
                                  max(60.0, right_seconds + off), plays=b.plays(), artist=credit()),
                          "wrong_duration"))
        elif maker == "isrc_conflict":
            assert isrc is not None
            other_isrc = isrc[:7] + f"{(int(isrc[7:]) + rng.randint(1, 500)) % 100000:05d}"
            cands.append((b.track(named(vtext, with_artist=True), b.label_account(label),
                                  near(right_seconds, 1) + rng.choice([-1, 1]) * rng.uniform(4, 25),
                                  plays=b.plays(), artist=credit(), isrc=other_isrc, label=label), "isrc_conflict"))
    for _, kind in cands:
        if not kind.startswith("right"):
            traps.add(kind)
    # ---- search order: most query words first, ties by plays -----------------------------------
    query = _words(f"{wanted.artist} {title}")

    def relevance(item: tuple[dict[str, Any], str]) -> tuple[int, float]:
        c = item[0]
        text = f"{c['title']} {c['user']['username']} {c['publisher_metadata'].get('artist') or ''}"
        return (-len(query & _words(text)), -c["playback_count"] * rng.uniform(0.7, 1.3))

    cands.sort(key=relevance)
    acceptable = frozenset(i for i, (_, k) in enumerate(cands) if k.startswith("right"))
    return Case(n, wanted, tuple(c for c, _ in cands), tuple(k for _, k in cands), acceptable,
                frozenset(traps), split)


def _version_trap(b: _Builder, rng: random.Random, v: str, artist: str, title: str, base: float,
                  named: Any, wanted_remixer: str | None) -> tuple[dict[str, Any], str]:
    """Another version of the track, by whoever would upload it."""
    plays = b.plays(1000, 5_000_000)
    if v == "original":  # a remix is wanted: the original is not it
        return b.track(named("", with_artist=rng.random() < 0.4), b.artist_account(artist), base, plays=plays,
                       artist=artist), "version:original"
    if v in ("remix", "bootleg"):
        who = rng.choice([x for x in REMIXERS if x not in (artist, wanted_remixer)])
        text = f"{who} {'Remix' if v == 'remix' else rng.choice(['Bootleg', 'Edit'])}"
        return b.track(named(text, with_artist=True), b.artist_account(who), rng.uniform(300, 460), plays=plays,
                       artist=f"{artist}, {who}"), f"version:{v}"
    if v in ("sped_up", "cover", "karaoke"):
        acct = b.user(rng.choice(SINGERS if v == "cover" else KARAOKE if v == "karaoke" else RANDOMS),
                      followers=rng.randint(100, 400_000))
        text = {"sped_up": rng.choice(["Sped Up", "sped up + reverb", "Sped Up Version"]),
                "cover": rng.choice(["Cover", "Acoustic Cover", "Piano Cover"]),
                "karaoke": rng.choice(["Karaoke Version", "Instrumental Karaoke"])}[v]
        seconds = base / 1.25 if v == "sped_up" else base * rng.uniform(0.55, 1.0)
        return b.track(named(text, with_artist=v != "cover"), acct, seconds, plays=plays), f"version:{v}"
    text = {"extended": "Extended Mix", "radio_edit": "Radio Edit", "vip": "VIP", "edit": "Edit",
            "live": rng.choice(["Live", f"Live at {rng.choice(VENUES)}"]), "dub": rng.choice(["Dub", "Dub Mix"]),
            "club_mix": "Club Mix"}[v]
    seconds = {"extended": base * rng.uniform(1.12, 1.3), "radio_edit": rng.uniform(175, 235),
               "vip": base + rng.uniform(-30, 30), "edit": rng.uniform(200, 260),
               "live": base + rng.uniform(40, 160), "dub": base + rng.uniform(-15, 15),
               "club_mix": base + rng.uniform(10, 60)}[v]
    acct = b.artist_account(artist) if rng.random() < 0.7 else b.label_account(rng.choice(LABELS))
    return b.track(named(text, with_artist=rng.random() < 0.4), acct, seconds, plays=plays,
                   artist=artist), f"version:{v}"


def build(seed: int = SEED, cases: int = CASES) -> list[Case]:
    """The whole set, the same for the same seed: 15 % without a right candidate, the held-out
    20 % ('test') chosen at random within each of the two groups."""
    rng = random.Random(seed)
    b = _Builder(rng)
    order = list(range(cases))
    rng.shuffle(order)
    no_right = set(order[: round(cases * NO_RIGHT_SHARE)])
    rng.shuffle(order)  # the held-out fifth, with its fair share of tracks that have no right candidate
    held_out = set()
    for group in ([n for n in order if n in no_right], [n for n in order if n not in no_right]):
        held_out |= set(group[: round(len(group) * TEST_SHARE)])
    out = [build_case(n, rng, b, has_right=n not in no_right, split="test" if n in held_out else "tune")
           for n in range(cases)]
    for case in out:
        check(case)
    return out


def check(case: Case) -> None:
    """The set's own promises, so a change to the generator cannot quietly break them."""
    urls = [c["permalink_url"] for c in case.candidates]
    assert 5 <= len(urls) <= 15 and len(set(urls)) == len(urls), case.n
    for i in case.acceptable:
        c = case.candidates[i]
        assert c["policy"] != "SNIP" and c["duration"] == c["full_duration"], case.n
        if case.wanted.duration is not None:
            assert abs(c["duration"] / 1000 - case.wanted.duration) <= 3, case.n
