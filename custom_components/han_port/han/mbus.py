"""M-Bus long frames (EN 13757-2) carrying DLMS/COSEM.

Austrian and some Swedish and Danish meters send these on their customer interface.

A DLMS APDU larger than one frame is split over several long frames; the CI
field's low nibble counts the segment and bit 0x10 marks the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ChecksumError, FrameError

START = 0x68
STOP = 0x16
CI_FINAL = 0x10
CI_DLMS_MAX = 0x1F


@dataclass(frozen=True, slots=True)
class MbusFrame:
    """A checked long frame: control, address, CI and the data after the CI."""

    control: int
    address: int
    ci: int
    data: bytes

    @property
    def is_dlms_segment(self) -> bool:
        """True for the CI values that carry (segmented) DLMS transport data."""
        return self.ci <= CI_DLMS_MAX

    @property
    def final(self) -> bool:
        """True when this segment completes the APDU."""
        return bool(self.ci & CI_FINAL)

    @property
    def sequence(self) -> int:
        """The segment's sequence number within the APDU."""
        return self.ci & 0x0F

    @property
    def payload(self) -> bytes:
        """The APDU fragment: DLMS segments start with source and destination TSAP."""
        return self.data[2:] if self.is_dlms_segment else self.data


def declared_length(data: bytes | bytearray, pos: int) -> int | None:
    """Return the wire length of the long frame starting at ``pos`` (4 bytes known).

    Sagemcom T210-D meters send 257-byte first segments whose one-byte length
    field wraps to 0x01; no valid long frame is that short, so such a field is
    read as 256 more.
    """
    length = data[pos + 1]
    if data[pos] != START or data[pos + 2] != length or data[pos + 3] != START:
        return None
    if length < 3:
        length += 256
    return length + 6


def parse_mbus(frame: bytes) -> MbusFrame:
    """Check and split one long frame. Raises ``ChecksumError`` or ``FrameError``."""
    if len(frame) < 9:
        raise FrameError("truncated M-Bus frame")
    total = declared_length(frame, 0)
    if total is None:
        raise FrameError("not an M-Bus long frame")
    if len(frame) < total:
        raise FrameError("truncated M-Bus frame")
    if frame[total - 1] != STOP:
        raise FrameError("M-Bus stop byte missing")
    body = frame[4 : total - 2]
    if sum(body) & 0xFF != frame[total - 2]:
        raise ChecksumError("M-Bus checksum mismatch")
    return MbusFrame(control=body[0], address=body[1], ci=body[2], data=body[3:])
