"""HDLC frame format type 3 as used by HAN ports (IEC 62056-46 / DLMS Green Book).

HAN meters do not octet-stuff: 0x7E and 0x7D appear raw inside frames, so a frame
is delimited by its length field and checked by HCS and FCS, never by flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from .crc import crc16_x25
from .errors import ChecksumError, FrameError

FLAG = 0x7E
FORMAT_TYPE_3 = 0xA0
SEGMENTED = 0x08
MIN_FRAME = 9  # flag, format (2), dest, src, control, FCS (2), flag
MAX_ADDRESS_BYTES = 4


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    """The parts of a checked HDLC frame that later layers need."""

    segmented: bool
    destination: bytes
    source: bytes
    control: int
    information: bytes


def declared_length(head0: int, head1: int) -> int | None:
    """Return the frame length on the wire (both flags) from the format field.

    ``None`` when the bytes cannot start a type-3 frame, so the caller moves on.
    """
    if head0 & 0xF0 != FORMAT_TYPE_3:
        return None
    length = ((head0 & 0x07) << 8) | head1
    if length < MIN_FRAME - 2:
        return None
    return length + 2


def _address(content: bytes, pos: int, end: int) -> int:
    """Return the position after a variable-length HDLC address (LSB 1 ends it)."""
    for index in range(pos, min(pos + MAX_ADDRESS_BYTES, end)):
        if content[index] & 1:
            return index + 1
    raise FrameError("invalid HDLC address")


def parse_hdlc(frame: bytes) -> HdlcFrame:
    """Check and split one frame that starts with its opening flag.

    The closing flag may be missing (some readers drop it); the length field,
    HCS and FCS decide. Raises ``ChecksumError`` or ``FrameError``.
    """
    if len(frame) < 3 or frame[0] != FLAG:
        raise FrameError("no HDLC opening flag")
    total = declared_length(frame[1], frame[2])
    if total is None:
        raise FrameError("not an HDLC type 3 frame")
    if len(frame) < total - 1:
        raise FrameError("truncated HDLC frame")
    end = total - 1  # index of the closing flag; content is frame[1:end]
    if crc16_x25(frame[1 : end - 2]) != int.from_bytes(frame[end - 2 : end], "little"):
        raise ChecksumError("HDLC FCS mismatch")
    dest_end = _address(frame, 3, end - 2)
    src_end = _address(frame, dest_end, end - 2)
    control_pos = src_end
    if control_pos >= end - 2:
        raise FrameError("HDLC header overruns frame")
    info_start = control_pos + 3  # control, HCS (2)
    if info_start <= end - 2:
        hcs = int.from_bytes(frame[control_pos + 1 : info_start], "little")
        if crc16_x25(frame[1 : control_pos + 1]) != hcs:
            raise ChecksumError("HDLC HCS mismatch")
        information = frame[info_start : end - 2]
    else:
        information = b""
    return HdlcFrame(
        segmented=bool(frame[1] & SEGMENTED),
        destination=frame[3:dest_end],
        source=frame[dest_end:src_end],
        control=frame[control_pos],
        information=information,
    )


def check_header(buffer: bytes | bytearray, start: int, end: int) -> int | None:
    """Check the HCS of a frame starting at ``start`` before all of it has arrived.

    A stray 0x7E in line noise then costs nothing: the stream decoder does not
    wait for hundreds of bytes that a bogus length field announces. ``end`` is
    where the frame (or the data received so far) ends. Returns where the
    information field starts (relative to ``start``), 0 for a bad header, or
    ``None`` while the header is incomplete.
    """
    pos = start + 3
    for _ in range(2):  # destination and source address
        for index in range(pos, pos + MAX_ADDRESS_BYTES):
            if index >= end:
                return None
            if buffer[index] & 1:
                pos = index + 1
                break
        else:
            return 0
    total = declared_length(buffer[start + 1], buffer[start + 2])
    if total is None:
        return 0
    if pos + 3 > start + total - 3:
        return total - 3  # no information field, so no HCS: the FCS decides
    if pos + 3 > end:
        return None
    hcs = buffer[pos + 1] | (buffer[pos + 2] << 8)
    if crc16_x25(buffer[start + 1 : pos + 1]) != hcs:
        return 0
    return pos + 3 - start
