"""The stream decoder: bytes from a HAN port in, telegrams out.

Serial adapters and network bridges hand over bytes in arbitrary chunks, with
line noise, duplicated or missing flags and, for some readers, a CR inserted
before every LF. The decoder finds frames by their own length fields and
checksums (HDLC, M-Bus) or text markers (P1), never by timing, so any chunking
gives the same telegrams. A damaged frame costs only itself: scanning resumes at
the next byte after its start, where the next frame may already wait.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import re

from . import hdlc, mbus
from .apdu import (
    BLOCK_TRANSFER,
    DATA_NOTIFICATION,
    LLC_PREFIXES,
    BlockAssembler,
    Keys,
    strip_llc,
    unwrap,
)
from .crc import crc16_x25
from .errors import ApduError, ChecksumError, DecryptionError, FrameError, HanError
from .layout import LayoutCache
from .model import FrameFormat, Telegram
from .p1 import parse_p1
from .profiles import vendor_from_text

MAX_P1_LENGTH = 8192
MAX_APDU_LENGTH = 64 * 1024
MAX_HEADERS = 16  # HDLC headers kept; a meter uses one per list

_BLOCK = bytes((BLOCK_TRANSFER,))
_CANDIDATE = re.compile(rb"[\x7e\x68/]")
_STARTS = frozenset(b"\x7e\x68/")
# IEC 62056-21 identification: "/", a three-letter manufacturer flag, then text.
_P1_HEAD = re.compile(rb"/[A-Za-z]{3}[\x20-\x7e]")
_P1_BAD = re.compile(rb"[\x00\x7f-\xff]")
# The telegram ends with "!" and a CRC of four hex digits (unpadded by a few
# meters, absent on old ones) before the line end.
_P1_END = re.compile(rb"![0-9A-Fa-f]{4}|![0-9A-Fa-f]{0,3}\r?\n")


@dataclass(slots=True)
class DecoderStats:
    """Counters for diagnostics: what arrived and what had to be thrown away."""

    frames: int = 0
    telegrams: int = 0
    checksum_errors: int = 0
    frame_errors: int = 0
    apdu_errors: int = 0
    decryption_errors: int = 0
    repaired_frames: int = 0
    discarded_bytes: int = 0


class StreamDecoder:
    """Incremental decoder for one HAN connection.

    ``feed`` may be called with any chunk size; it returns the telegrams that
    became complete. Memory is bounded by the largest frame a format allows.
    """

    def __init__(
        self,
        keys: Keys | None = None,
        *,
        vendor: str | None = None,
        keep_frames: int = 0,
    ) -> None:
        """Set up an empty decoder; ``keys`` open encrypted meters.

        ``keep_frames`` keeps that many of the latest checksum-valid frames in
        ``recent_frames`` so a bug report can carry them without debug logging.
        """
        self.keys = keys
        self.vendor = vendor
        self.stats = DecoderStats()
        self.recent_frames: deque[bytes] = deque(maxlen=keep_frames)
        self._keep = keep_frames > 0
        self.last_error: HanError | None = None
        self._buffer = bytearray()
        self._hdlc_segments: list[bytes] = []
        self._mbus_segments: list[bytes] = []
        self._blocks = BlockAssembler()
        self._layouts = LayoutCache()
        self._pending_hdlc: tuple[int, int] | None = None
        # Headers of good HDLC frames by format field: checked once per list.
        self._headers: dict[tuple[int, int], tuple[bytes, int]] = {}

    def reset(self) -> None:
        """Drop partial data, e.g. after the connection was reopened."""
        self._pending_hdlc = None
        self._buffer.clear()
        self._hdlc_segments.clear()
        self._mbus_segments.clear()
        self._blocks.reset()

    def feed(self, data: bytes) -> list[Telegram]:
        """Add received bytes; return the telegrams completed by them."""
        buffer = self._buffer
        buffer += data
        pending = self._pending_hdlc
        if pending is not None and len(buffer) < pending[0]:
            return []  # most reads land inside a frame whose header is checked
        telegrams: list[Telegram] = []
        pos = 0
        length = len(buffer)
        while pos < length:
            first = buffer[pos]
            if first == 0x7E:
                if pos + 1 == length:
                    break  # a closing flag: it may open the next frame
                if buffer[pos + 1] == 0x7E:
                    pos += 1  # a closing flag followed by the next opening flag
                    continue
            if first in _STARTS:
                start = pos
            else:
                match = _CANDIDATE.search(buffer, pos)
                if match is None:
                    self.stats.discarded_bytes += length - pos
                    pos = length
                    break
                start = match.start()
                self.stats.discarded_bytes += start - pos
                first = buffer[start]
            if first == 0x7E:
                step = self._try_hdlc(buffer, start, telegrams)
            elif first == 0x68:
                step = self._try_mbus(buffer, start, telegrams)
            else:
                step = self._try_p1(buffer, start, telegrams)
            if step is None:  # the candidate needs more bytes
                pos = start
                break
            if step == 0:  # not a frame after all: resume after its first byte
                self.stats.discarded_bytes += 1
                pos = start + 1
            else:
                pos = start + step
        del buffer[:pos]
        return telegrams

    def feed_apdu(self, data: bytes) -> list[Telegram]:
        """Decode one APDU that arrived without link framing (LLC header optional)."""
        telegrams: list[Telegram] = []
        self._apdu(data, FrameFormat.DLMS, telegrams)
        return telegrams

    # HDLC -----------------------------------------------------------------

    def _try_hdlc(
        self, buffer: bytearray, start: int, out: list[Telegram]
    ) -> int | None:
        available = len(buffer) - start
        known = None
        if start == 0 and self._pending_hdlc:
            total, info = self._pending_hdlc  # header checked on an earlier read
            self._pending_hdlc = None
        elif (
            available >= 3
            and (known := self._headers.get((buffer[start + 1], buffer[start + 2])))
            and buffer.startswith(known[0], start)
        ):
            # A good frame's header, byte for byte (length, addresses, control
            # and HCS): a meter repeats it in every push of a list.
            total, info = known[1], len(known[0])
        else:
            if available < 3:
                return None
            declared = hdlc.declared_length(buffer[start + 1], buffer[start + 2])
            if declared is None:
                return 0
            checked = hdlc.check_header(
                buffer, start, min(len(buffer), start + declared)
            )
            if checked is None:
                return None
            if not checked:
                self.stats.checksum_errors += 1
                return 0
            total, info = declared, checked
        # Wait for the byte after the frame: its closing flag or, when a reader
        # dropped that, the next frame's opening flag. Requiring a flag there
        # adds eight bits of protection against a line-noise frame passing the FCS.
        if available < total:
            self._pending_hdlc = (total, info)
            return None
        end = start + total - 1
        fcs = buffer[end - 2] | (buffer[end - 1] << 8)
        if crc16_x25(buffer[start + 1 : end - 2]) == fcs and buffer[end] == hdlc.FLAG:
            if known is None:
                self._remember_header(bytes(buffer[start : start + info]), total)
            self.stats.frames += 1
            if self._keep:
                self.recent_frames.append(bytes(buffer[start : end + 1]))
            segmented = bool(buffer[start + 1] & hdlc.SEGMENTED)
            apdu = start + info + 3
            if (
                # A push of a list seen before: read in place, without copies.
                known is not None
                and not segmented
                and not self._hdlc_segments
                and buffer.startswith(LLC_PREFIXES, start + info)
                and apdu < end - 2
                and buffer[apdu] == DATA_NOTIFICATION
                and (
                    telegram := self._layouts.decode_known(
                        buffer, apdu, end - 2 - apdu, FrameFormat.HDLC, self.vendor
                    )
                )
                is not None
            ):
                self._emit(telegram, out)
            else:
                self._hdlc_payload(
                    segmented, bytes(buffer[start + info : end - 2]), out
                )
            return total - 1  # leave the closing flag: it may open the next frame
        try:
            hdlc.parse_hdlc(bytes(buffer[start : start + total]))
        except ChecksumError as err:
            repaired = self._repair_crlf(buffer, start, total)
            if repaired is None:
                self.stats.checksum_errors += 1
                self.last_error = err
                return 0
            if repaired == (b"", 0):
                return None
            frame, consumed = repaired
        except FrameError as err:
            self.stats.frame_errors += 1
            self.last_error = err
            return 0
        else:
            # The checksums hold but no flag follows: a frame invented by noise.
            self.stats.frame_errors += 1
            self.last_error = FrameError("no flag after the HDLC frame")
            return 0
        parsed = hdlc.parse_hdlc(frame)
        self.stats.repaired_frames += 1
        self.stats.frames += 1
        if self._keep:
            self.recent_frames.append(frame)
        self._hdlc_payload(parsed.segmented, parsed.information, out)
        return consumed

    def _remember_header(self, header: bytes, total: int) -> None:
        if len(self._headers) >= MAX_HEADERS:
            self._headers.clear()
        self._headers[header[1], header[2]] = (header, total)

    def _repair_crlf(
        self, buffer: bytearray, start: int, total: int
    ) -> tuple[bytes, int] | None:
        """Undo a reader's LF to CRLF translation inside one frame.

        Returns the repaired frame and the bytes it spanned, ``(b"", 0)`` when more
        data is needed, or ``None`` when the frame is simply damaged.
        """
        window = buffer[start : start + 2 * total]
        if b"\r\n" not in window[:total]:
            return None
        repaired = bytearray()
        index = 0
        size = len(window)
        while len(repaired) < total and index < size:
            byte = window[index]
            index += 1
            if byte == 0x0D and index < size and window[index] == 0x0A:
                continue
            repaired.append(byte)
        if len(repaired) < total:
            return (b"", 0)
        frame = bytes(repaired)
        try:
            hdlc.parse_hdlc(frame)
        except FrameError:
            return None
        if frame[-1] != hdlc.FLAG:
            return None
        return frame, index - 1

    def _hdlc_payload(
        self, segmented: bool, information: bytes, out: list[Telegram]
    ) -> None:
        segments = self._hdlc_segments
        if segmented:
            segments.append(information)
            if sum(map(len, segments)) > MAX_APDU_LENGTH:
                segments.clear()
                self._error(ApduError("segmented frame too large"))
            return
        if segments:
            segments.append(information)
            information = b"".join(segments)
            segments.clear()
        if information:
            self._apdu(information, FrameFormat.HDLC, out)

    # M-Bus ----------------------------------------------------------------

    def _try_mbus(
        self, buffer: bytearray, start: int, out: list[Telegram]
    ) -> int | None:
        if len(buffer) - start < 4:
            return None
        total = mbus.declared_length(buffer, start)
        if total is None:
            return 0
        if len(buffer) - start < total:
            return None
        try:
            frame = mbus.parse_mbus(bytes(buffer[start : start + total]))
        except FrameError as err:
            return self._reject(err)
        self.stats.frames += 1
        if self._keep:
            self.recent_frames.append(bytes(buffer[start : start + total]))
        if not frame.is_dlms_segment:
            self._error(ApduError(f"M-Bus CI 0x{frame.ci:02x} carries no DLMS data"))
            return total
        segments = self._mbus_segments
        if frame.sequence == 0:
            segments.clear()
        elif len(segments) != frame.sequence:
            segments.clear()
            self._error(ApduError("M-Bus segment out of order"))
            return total
        segments.append(frame.payload)
        if frame.final:
            apdu = b"".join(segments)
            segments.clear()
            self._apdu(apdu, FrameFormat.MBUS, out)
        elif sum(map(len, segments)) > MAX_APDU_LENGTH:
            segments.clear()
        return total

    # P1 -------------------------------------------------------------------

    def _try_p1(self, buffer: bytearray, start: int, out: list[Telegram]) -> int | None:
        head = bytes(buffer[start : start + 5])
        if len(head) < 5:
            # Complete the partial header with a valid tail to see if it could fit.
            return None if _P1_HEAD.match(head + b"/AAA0"[len(head) :]) else 0
        if _P1_HEAD.match(head) is None:
            return 0
        end_match = _P1_END.search(buffer, start)
        limit = end_match.start() if end_match else len(buffer)
        if _P1_BAD.search(buffer, start, limit) is not None:
            return 0
        if end_match is None:
            return None if len(buffer) - start < MAX_P1_LENGTH else 0
        end = end_match.end()
        try:
            telegram = parse_p1(bytes(buffer[start:end]))
        except FrameError as err:
            return self._reject(err)
        self.stats.frames += 1
        if self._keep:
            self.recent_frames.append(bytes(buffer[start:end]))
        self._emit(telegram, out)
        return end - start

    # APDU -----------------------------------------------------------------

    def _apdu(
        self, data: bytes, frame_format: FrameFormat, out: list[Telegram]
    ) -> None:
        data = strip_llc(data)
        try:
            if data[:1] == _BLOCK:
                whole = self._blocks.feed(data)
                if whole is None:
                    return
                data = strip_llc(whole)
            plaintext, system_title, encrypted = unwrap(data, self.keys)
            hint = self.vendor
            if hint is None and system_title:
                hint = vendor_from_text(system_title[:3].decode("latin-1"))
            try:
                telegram = self._layouts.decode(
                    plaintext, frame_format, hint, encrypted
                )
            except ApduError as err:
                if encrypted:
                    raise DecryptionError(
                        "decrypted data is not valid (wrong key?)"
                    ) from err
                raise
        except DecryptionError as err:
            self.stats.decryption_errors += 1
            self.last_error = err
            return
        except ApduError as err:
            self._error(err)
            return
        self._emit(telegram, out)

    def _emit(self, telegram: Telegram, out: list[Telegram]) -> None:
        if telegram.vendor and self.vendor is None:
            self.vendor = telegram.vendor
        self.stats.telegrams += 1
        out.append(telegram)

    def _reject(self, err: FrameError) -> int:
        """Count a frame that failed its checks; scanning resumes after its start."""
        if isinstance(err, ChecksumError):
            self.stats.checksum_errors += 1
        else:
            self.stats.frame_errors += 1
        self.last_error = err
        return 0

    def _error(self, err: HanError) -> None:
        self.stats.apdu_errors += 1
        self.last_error = err


def decode_frame(data: bytes, keys: Keys | None = None) -> list[Telegram]:
    """Decode one self-contained frame, or a bare APDU without link framing.

    Raises the decoder's typed error when nothing could be decoded, so a caller
    can say why (checksum, missing key, unsupported data).
    """
    decoder = StreamDecoder(keys)
    # A trailing flag completes an HDLC frame whose closing flag was not kept.
    telegrams = decoder.feed(data + b"\x7e" if data[:1] == b"\x7e" else data)
    if telegrams:
        return telegrams
    if decoder.stats.frames == 0 and data[:1] not in (b"\x7e", b"\x68", b"/"):
        decoder = StreamDecoder(keys)
        if telegrams := decoder.feed_apdu(data):
            return telegrams
    if decoder.last_error is not None:
        raise decoder.last_error
    if decoder.stats.frames:
        return []
    raise FrameError("no complete frame found")
