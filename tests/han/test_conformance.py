"""Conformance against real frames from the field (``../shared/han-corpus``).

Every checksum-valid frame must decode and match the values its source asserts;
the few that cannot decode on their own are listed with the reason, and each
reason is itself checked so the list cannot hide a regression.
"""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.han_port.han.errors import (
    ChecksumError,
    HanError,
    MissingKeyError,
)
from custom_components.han_port.han.stream import StreamDecoder, decode_frame

from . import corpus

pytestmark = pytest.mark.skipif(
    not corpus.CORPUS.is_dir(), reason="../shared/han-corpus absent"
)

# Entries that are one piece of a larger message: they decode only together.
SPLIT: dict[str, tuple[tuple[str, ...], str]] = {
    "landis_gyr-amsreader-gh740-1": (
        (
            "landis_gyr-amsreader-gh740-1",
            "landis_gyr-amsreader-gh740-2",
            "landis_gyr-amsreader-gh740-3",
        ),
        "telegram",
    ),
    "landis_gyr-amsreader-em-ct623-1": (
        ("landis_gyr-amsreader-em-ct623-1", "landis_gyr-amsreader-em-ct623-2"),
        "missing-key",
    ),
    "kaifa-amsreader-gh539-1": (
        ("kaifa-amsreader-gh539-1", "kaifa-amsreader-gh539-2"),
        "missing-key",
    ),
    "landis_gyr-amsreader-gh949-1": (
        ("landis_gyr-amsreader-gh949-1", "landis_gyr-amsreader-gh949-2"),
        "incomplete",
    ),
}
ALLOWED: dict[str, str] = {
    "landis_gyr-amsreader-gh740-1": "block 1 of 3 of a general-block-transfer (see SPLIT)",
    "landis_gyr-amsreader-gh740-2": "block 2 of 3 of a general-block-transfer (see SPLIT)",
    "landis_gyr-amsreader-gh740-3": "block 3 of 3 of a general-block-transfer (see SPLIT)",
    "landis_gyr-amsreader-em-ct623-1": "block 1 of 2 of a ciphered block transfer, no key published",
    "landis_gyr-amsreader-em-ct623-2": "block 2 of 2 of a ciphered block transfer, no key published",
    "landis_gyr-amsreader-gh949-1": "block 1 of 3; the last block was not captured",
    "landis_gyr-amsreader-gh949-2": "block 2 of 3; the last block was not captured",
    "kaifa-amsreader-gh539-1": "first M-Bus segment of a ciphered APDU, no key published",
    "kaifa-amsreader-gh539-2": "last M-Bus segment of a ciphered APDU, no key published",
    "iskraemeco-amsreader-gh1072-1": "first HDLC segment; the continuation was not captured",
    "iskraemeco-amsreader-gh1072-2": (
        "the source merged two segments keeping the first one's FCS and flag (9f 45 7e) "
        "inside the APDU; these bytes are not an APDU a meter sends"
    ),
    "kaifa-amsreader-gh986-1": (
        "ciphered bytes pasted behind a P1 header; the telegram has no '!' end line"
    ),
    "sagemcom-amsreader-gh264-1": "the capture stops before the P1 '!' end line",
    "kamstrup-amsreader-gh111-2": (
        "firmware dump: a plaintext APDU pasted behind a ciphering header with a stray "
        "byte between them; as bytes it is a ciphered APDU, so a key is asked for"
    ),
}
# Lists without OBIS codes whose layout no public document gives: the telegram
# decodes (clock, push time) but values are not labelled by guesswork.
NO_LAYOUT: dict[str, str] = dict.fromkeys(
    ("iskraemeco-amsreader-gh1072-3", "iskraemeco-amsreader-gh1072-4"),
    "Iskraemeco compact 33-value push (Croatia) without OBIS codes or published layout",
) | dict.fromkeys(
    (
        "iskraemeco-amsreader-gh869-3",
        "iskraemeco-amsreader-gh869-4",
        "iskraemeco-amsreader-gh869-7",
    ),
    "Iskraemeco energy-register push (push id, 3 numbers) without OBIS codes or layout",
)
# Asserted values that a correct decoder must not reproduce.
DISPUTED: dict[tuple[str, str], str] = {
    (entry, key): "amsreader divides Landis+Gyr E450 voltages by ten (its issue #949); "
    "the meter sends whole volts, 23.4 V is impossible on a 230 V grid"
    for entry in ("landis_gyr-amsreader-gh934-1",)
    for key in ("1.0.32.7.0.255", "1.0.52.7.0.255", "1.0.72.7.0.255")
}


def _entries() -> list[dict[str, Any]]:
    return corpus.load("frames.jsonl") if corpus.CORPUS.is_dir() else []


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["id"] for entry in entries]


FRAMES = _entries()
VALID = [entry for entry in FRAMES if corpus.checksum_valid(entry)]
INVALID = [entry for entry in FRAMES if not corpus.checksum_valid(entry)]


@pytest.mark.parametrize("entry", VALID, ids=_ids(VALID))
def test_valid_frame_decodes(entry: dict[str, Any]) -> None:
    """A checksum-valid frame gives a telegram matching its asserted values."""
    data = corpus.frame_bytes(entry)
    keys = corpus.keys_of(entry)
    if entry["id"] in ALLOWED:
        pytest.skip(ALLOWED[entry["id"]])
    encrypted = "encrypted" in entry["format"] or entry.get("security")
    if encrypted and keys is None and not entry.get("gcm_header_with_plaintext"):
        with pytest.raises(MissingKeyError):
            decode_frame(data)
        return
    telegrams = decode_frame(data, keys)
    assert telegrams, "no telegram"
    telegram = telegrams[-1]
    if entry["id"] in NO_LAYOUT:
        assert telegram.push_time is not None
        assert not entry.get("expected")
        return
    assert telegram.readings, "telegram without values"
    if entry.get("list") in {"1", "2", "3"} and entry["format"] != "p1_ascii":
        assert str(telegram.list_type) == entry["list"]
    problems = [
        problem
        for problem in corpus.mismatches(entry, telegram)
        if (entry["id"], problem.split(":")[0]) not in DISPUTED
    ]
    assert not problems


@pytest.mark.parametrize("entry", INVALID, ids=_ids(INVALID))
def test_invalid_checksum_gives_no_values(entry: dict[str, Any]) -> None:
    """A frame whose checksum fails never yields values.

    The one exception is a frame whose only damage is CR bytes a reader
    inserted before LF: removing them restores the checksum, which is checked.
    """
    data = corpus.frame_bytes(entry)
    decoder = StreamDecoder(corpus.keys_of(entry))
    telegrams = decoder.feed(data)
    if telegrams:
        assert b"\r\n" in data
        assert decoder.stats.repaired_frames == len(telegrams)
    else:
        assert decoder.stats.telegrams == 0


@pytest.mark.parametrize("first", list(SPLIT), ids=list(SPLIT))
def test_split_entries_decode_together(first: str) -> None:
    """Pieces of one message decode when fed in order, as on the wire."""
    by_id = {entry["id"]: entry for entry in FRAMES}
    parts, outcome = SPLIT[first]
    decoder = StreamDecoder()
    telegrams = []
    for part in parts:
        telegrams += decoder.feed(corpus.frame_bytes(by_id[part]))
    if outcome == "telegram":
        assert len(telegrams) == 1
        assert decoder.last_error is None
    elif outcome == "missing-key":
        assert telegrams == []
        assert isinstance(decoder.last_error, MissingKeyError)
        assert decoder.stats.decryption_errors == 1
    else:
        assert telegrams == []
        assert decoder.last_error is None
        assert decoder.stats.frames == len(parts)


def test_allow_list_is_small_and_current() -> None:
    """Every allow-listed id exists and still fails on its own."""
    by_id = {entry["id"]: entry for entry in FRAMES}
    assert len(ALLOWED) <= 14
    for entry_id in ALLOWED:
        entry = by_id[entry_id]
        try:
            telegrams = decode_frame(corpus.frame_bytes(entry), corpus.keys_of(entry))
        except HanError:
            continue
        assert telegrams == [], entry_id


def test_disputed_values_really_differ() -> None:
    """The disputed assertions are the only mismatches of their entries."""
    by_id = {entry["id"]: entry for entry in FRAMES}
    for entry_id, key in DISPUTED:
        telegram = decode_frame(corpus.frame_bytes(by_id[entry_id]))[-1]
        problems = corpus.mismatches(by_id[entry_id], telegram)
        assert any(problem.startswith(key) for problem in problems)


def test_p1_with_wrong_crc_is_rejected() -> None:
    """Published P1 telegrams whose CRC does not match are refused, not guessed."""
    bad = [
        e for e in FRAMES if e["format"] == "p1_ascii" and e.get("p1_crc_ok") is False
    ]
    assert bad
    for entry in bad:
        with pytest.raises(ChecksumError):
            decode_frame(corpus.frame_bytes(entry))


NEGATIVE = corpus.load("negative.jsonl") if corpus.CORPUS.is_dir() else []
TOLERATED = corpus.load("tolerated.jsonl") if corpus.CORPUS.is_dir() else []


@pytest.mark.parametrize("entry", NEGATIVE, ids=_ids(NEGATIVE))
def test_negative_rejected(entry: dict[str, Any]) -> None:
    """Deliberately corrupted frames yield nothing, in one piece or byte by byte."""
    data = corpus.frame_bytes(entry)
    decoder = StreamDecoder()
    assert decoder.feed(data) == []
    decoder = StreamDecoder()
    assert [t for i in range(len(data)) for t in decoder.feed(data[i : i + 1])] == []


@pytest.mark.parametrize("entry", TOLERATED, ids=_ids(TOLERATED))
def test_tolerated_exact_or_rejected(entry: dict[str, Any]) -> None:
    """A frame with only its opening flag damaged is rejected or decoded exactly."""
    by_id = {item["id"]: item for item in FRAMES}
    telegrams = StreamDecoder().feed(corpus.frame_bytes(entry))
    if telegrams:
        original = decode_frame(corpus.frame_bytes(by_id[entry["original_id"]]))
        assert [t.to_json() for t in telegrams] == [t.to_json() for t in original]


STREAMS = corpus.load("streams.jsonl") if corpus.CORPUS.is_dir() else []
STREAM_TELEGRAMS = {
    "kaifa-roarfred-sampledata": 559,
    "aidon-oss-amshan-homeassistant-48": 3,
    "sagemcom-amsreader-gh155-4": 0,
}
# The Sagemcom capture holds ten complete ciphered telegrams and no key.
STREAM_MISSING_KEY = {"sagemcom-amsreader-gh155-4": 10}


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
@pytest.mark.parametrize("stream", STREAMS, ids=[s["slug"] for s in STREAMS])
def test_stream_counts(stream: dict[str, Any], chunk: int) -> None:
    """The captured streams give the right number of telegrams in any chunking."""
    data = (corpus.CORPUS / stream["file"]).read_bytes()
    decoder = StreamDecoder()
    telegrams = [
        t for i in range(0, len(data), chunk) for t in decoder.feed(data[i : i + chunk])
    ]
    slug = stream["slug"]
    assert len(telegrams) == STREAM_TELEGRAMS[slug]
    if "expected_frame_count" in stream and stream["expected_frame_count"] is not None:
        assert len(telegrams) == stream["expected_frame_count"]
    assert decoder.stats.decryption_errors == STREAM_MISSING_KEY.get(slug, 0)
    assert decoder.stats.checksum_errors == 0


def test_kaifa_stream_skipping_first_bytes() -> None:
    """The Kaifa capture's own test: 558 telegrams when the first 10 bytes are cut."""
    data = (corpus.CORPUS / "streams" / "kaifa-roarfred-sampledata.bin").read_bytes()
    assert len(StreamDecoder().feed(data[10:])) == 558


def test_aidon_oss_chunks_as_read() -> None:
    """The OSS gateway's reads, fed exactly as they arrived, give three List 1 telegrams."""
    stream = next(
        s for s in STREAMS if s["slug"] == "aidon-oss-amshan-homeassistant-48"
    )
    decoder = StreamDecoder()
    telegrams = [
        t
        for chunk in stream["read_chunks_hex"]
        for t in decoder.feed(bytes.fromhex(chunk))
    ]
    assert [t.list_type for t in telegrams] == [1, 1, 1]
    assert [t.readings["1.0.1.7.0.255"].value for t in telegrams] == [1356, 1336, 1319]


@pytest.mark.parametrize(
    "entry_id",
    [
        "iskraemeco-amsreader-gh615-2",
        "iskraemeco-amsreader-gh615-4",
        "iskraemeco-amsreader-gh956-2",
    ],
)
def test_iskraemeco_register_layout_is_consistent(entry_id: str) -> None:
    """The positional register layout is checked by the meter's own arithmetic."""
    by_id = {entry["id"]: entry for entry in FRAMES}
    telegram = decode_frame(corpus.frame_bytes(by_id[entry_id]))[-1]
    values = {key: reading.value for key, reading in telegram.readings.items()}
    assert values["1.0.1.8.0.255"] == values["1.0.1.8.1.255"] + values["1.0.1.8.2.255"]
    assert values["1.0.2.8.0.255"] == values["1.0.2.8.1.255"] + values["1.0.2.8.2.255"]
