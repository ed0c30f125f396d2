"""How the analyze stage chooses between measured values and the tags a file carries."""

from cratefile.stages.analyze import choose

MEASURED = {"bpm": 127.98, "key": "Am"}


def test_store_tags_win_unless_overwrite() -> None:
    carried = {"bpm": 128.0, "key": "8A"}
    assert choose(MEASURED, carried, overwrite=False) == {
        "bpm": 128.0, "bpm_source": "tag", "musical_key": "Am", "key_source": "tag"}
    assert choose(MEASURED, carried, overwrite=True) == {
        "bpm": 127.98, "bpm_source": "analysis", "musical_key": "Am", "key_source": "analysis"}


def test_unusable_tags_are_ignored_and_no_pulse_is_unknown() -> None:
    assert choose({"bpm": 0.0, "key": "F#m"}, {"bpm": -3, "key": "not a key"}, overwrite=False) == {
        "bpm": None, "bpm_source": "analysis", "musical_key": "F#m", "key_source": "analysis"}
    assert choose(MEASURED, {"key": "Gbm"}, overwrite=False)["musical_key"] == "F#m"


def test_a_pulse_without_a_reliable_beat_gives_no_bpm() -> None:
    # the analyzer found no reliable pulse (no first beat): no BPM tag rather than a guess
    assert choose({"bpm": 121.3, "first_beat": None, "key": "Am"}, {}, overwrite=False)["bpm"] is None
    assert choose({"bpm": 121.3, "first_beat": 0.25, "key": "Am"}, {}, overwrite=False)["bpm"] == 121.3
    # a BPM the file carries still stands
    assert choose({"bpm": 121.3, "first_beat": None}, {"bpm": 120}, overwrite=False)["bpm"] == 120.0
