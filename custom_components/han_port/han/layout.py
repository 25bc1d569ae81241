"""Fast path for data-notifications: one scan per new layout, one C call per push.

A meter pushes the same few lists over and over: the A-XDR tags and lengths
stay the same and only the contents change. A new layout is scanned once in
Python, which yields a ``struct`` format covering the whole APDU: fixed parts
(tags, lengths) and contents (numbers, strings, clocks) as separate fields.
Every later push with that layout is read with a single ``unpack``; its fixed
parts and the contents the profile relied on (OBIS codes, scalers, the list id)
are compared as tuples, and the profile's ``Plan``, rebound to the fields,
builds the telegram. Both paths run the same plan code, so they give identical
telegrams; meters of one model share a layout. Anything the scanner does not
handle falls back to the general A-XDR decoder.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from struct import Struct
from typing import Any

from .apdu import DATA_NOTIFICATION, decode_apdu
from .axdr import Value, parse_datetime
from .errors import ApduError
from .model import FrameFormat, Telegram
from .profiles import Plan, build_telegram, compile_plan, tokens_from_leaves

# A-XDR tags of fixed-size numbers: struct code and size.
_NUMBERS: dict[int, tuple[str, int]] = {
    0x03: ("?", 1),
    0x05: ("i", 4),
    0x06: ("I", 4),
    0x0F: ("b", 1),
    0x10: ("h", 2),
    0x11: ("B", 1),
    0x12: ("H", 2),
    0x14: ("q", 8),
    0x15: ("Q", 8),
    0x16: ("B", 1),
    0x17: ("f", 4),
    0x18: ("d", 8),
}
MAX_LAYOUTS = 32
MAX_DEPTH = 12

type Getter = Callable[[tuple[Any, ...]], Any]


def _getter(indices: list[int]) -> Getter:
    if not indices:
        return lambda _fields: ()
    return itemgetter(*indices)


@dataclass(slots=True)
class Scan:
    """The fields of one data-notification as the scanner found them."""

    codec: Struct
    skeleton: list[int]
    leaf_fields: list[int]
    visible: list[int]
    groups: dict[int, int]
    push_field: int | None


def _length(data: bytes, pos: int) -> tuple[int, int]:
    length = data[pos]
    if length < 0x80:
        return length, pos + 1
    width = length & 0x7F
    if not 0 < width <= 2:
        raise ApduError("unsupported length")
    return int.from_bytes(data[pos + 1 : pos + 1 + width]), pos + 1 + width


def scan(apdu: bytes) -> Scan:
    """Scan a plaintext data-notification into fields; ``ApduError`` if unsupported."""
    data = apdu
    size = len(data)
    if size < 7 or data[0] != DATA_NOTIFICATION:
        raise ApduError("not a data-notification")
    codes = [">x4s"]  # tag, then invoke id and priority, which change every push
    skeleton: list[int] = []
    leaf_fields: list[int] = []
    visible: list[int] = []
    groups: dict[int, int] = {}
    fields = 1
    push_field: int | None = None
    marker = data[5]
    if marker == 0x00:
        fixed_from, pos = 5, 6
    elif marker == 0x09 and data[6] == 12:
        codes.append("2s12s")
        skeleton.append(fields)
        push_field = fields + 1
        fields += 2
        fixed_from = pos = 19
    elif marker == 0x0C:
        codes.append("1s12s")
        skeleton.append(fields)
        push_field = fields + 1
        fields += 2
        fixed_from = pos = 18
    else:
        raise ApduError("no fast layout for this date-time header")
    # Containers in progress: [remaining, first leaf, only leaves so far, count, structure].
    stack: list[list[Any]] = []
    numbers = _NUMBERS
    while True:
        while stack and stack[-1][0] == 0:
            _, first, only_leaves, count, structure = stack.pop()
            if structure and only_leaves and count in (2, 4):
                groups[first] = count
        if not stack and pos >= size:
            break
        tag = data[pos]
        pos += 1
        if stack:
            stack[-1][0] -= 1
        if tag in {0x01, 0x02}:
            count, pos = _length(data, pos)
            if stack:
                stack[-1][2] = False
            if len(stack) >= MAX_DEPTH or count > size - pos:
                raise ApduError("implausible container")
            stack.append([count, len(leaf_fields), True, count, tag == 0x02])
            continue
        number = numbers.get(tag)
        if number is not None:
            code, length = number
        elif tag in {0x09, 0x0A}:
            length, pos = _length(data, pos)
            code = f"{length}s"
            if tag == 0x0A:
                visible.append(len(leaf_fields))
        elif tag == 0x19:
            code, length = "12s", 12
        elif tag == 0x00:
            leaf_fields.append(-1)
            continue
        else:
            raise ApduError(f"no fast layout for tag 0x{tag:02x}")
        if pos > fixed_from:
            codes.append(f"{pos - fixed_from}s")
            skeleton.append(fields)
            fields += 1
        codes.append(code)
        leaf_fields.append(fields)
        fields += 1
        pos += length
        fixed_from = pos
    if pos != size:
        raise ApduError("data-notification overruns its frame")
    if size > fixed_from:
        codes.append(f"{size - fixed_from}s")
        skeleton.append(fields)
    codec = Struct("".join(codes))
    if codec.size != size:
        raise ApduError("layout does not cover the data")
    return Scan(codec, skeleton, leaf_fields, visible, groups, push_field)


@dataclass(slots=True)
class Layout:
    """A compiled list layout: struct, skeleton, pinned contents and the bound plan."""

    codec: Struct
    skeleton: Getter
    expected: object
    pinned: Getter
    pinned_values: object
    plan: Plan
    push_field: int | None
    vendor_hint: str | None


def _leaves(found: Scan, fields: tuple[Any, ...]) -> list[Value]:
    leaves: list[Value] = [
        fields[field] if field >= 0 else None for field in found.leaf_fields
    ]
    for leaf in found.visible:
        raw = leaves[leaf]
        assert isinstance(raw, bytes)
        leaves[leaf] = raw.decode("latin-1")
    return leaves


class LayoutCache:
    """The layouts one meter connection has seen, most recent first, bounded."""

    def __init__(self) -> None:
        """Start empty."""
        self._layouts: OrderedDict[int, list[Layout]] = OrderedDict()
        self._count = 0
        self.hits = 0

    def decode(
        self,
        apdu: bytes,
        frame_format: FrameFormat,
        vendor_hint: str | None,
        encrypted: bool = False,
    ) -> Telegram:
        """Decode a plaintext data-notification, reusing a known layout when it fits."""
        known = self.decode_known(
            apdu, 0, len(apdu), frame_format, vendor_hint, encrypted
        )
        if known is not None:
            return known
        try:
            found = scan(apdu)
        except ApduError, IndexError:
            return self._general(apdu, frame_format, vendor_hint, encrypted)
        fields = found.codec.unpack(apdu)
        leaves = _leaves(found, fields)
        plan = compile_plan(
            leaves, tokens_from_leaves(leaves, found.groups), vendor_hint
        )
        push_field = found.push_field
        push = parse_datetime(fields[push_field]) if push_field is not None else None
        telegram = plan.apply(leaves, frame_format, push, encrypted=encrypted)
        if all(found.leaf_fields[leaf] >= 0 for leaf in plan.used):
            bound = plan.rebind(found.leaf_fields.__getitem__)
            skeleton = _getter(found.skeleton)
            pinned = _getter([field for field in bound.checks if field >= 0])
            self._remember(
                len(apdu),
                Layout(
                    codec=found.codec,
                    skeleton=skeleton,
                    expected=skeleton(fields),
                    pinned=pinned,
                    pinned_values=pinned(fields),
                    plan=bound,
                    push_field=push_field,
                    vendor_hint=vendor_hint,
                ),
            )
        return telegram

    def decode_known(
        self,
        data: bytes | bytearray,
        offset: int,
        size: int,
        frame_format: FrameFormat,
        vendor_hint: str | None,
        encrypted: bool = False,
    ) -> Telegram | None:
        """Decode the ``size`` bytes at ``offset`` with a known layout, else ``None``.

        Read in place, so a frame in the receive buffer needs no copy. The
        data-notification tag is the caller's to check: the codec skips it.
        """
        for layout in self._layouts.get(size, ()):
            fields = layout.codec.unpack_from(data, offset)
            if (
                layout.skeleton(fields) == layout.expected
                and layout.pinned(fields) == layout.pinned_values
                and layout.vendor_hint == vendor_hint
            ):
                self.hits += 1
                push_field = layout.push_field
                push = (
                    parse_datetime(fields[push_field])
                    if push_field is not None
                    else None
                )
                return layout.plan.apply(fields, frame_format, push, encrypted)
        return None

    @staticmethod
    def _general(
        apdu: bytes, frame_format: FrameFormat, vendor_hint: str | None, encrypted: bool
    ) -> Telegram:
        notification = decode_apdu(apdu)
        notification.encrypted = encrypted
        return build_telegram(notification, frame_format, vendor_hint=vendor_hint)

    def _remember(self, length: int, layout: Layout) -> None:
        self._layouts.setdefault(length, []).insert(0, layout)
        self._layouts.move_to_end(length, last=False)
        self._count += 1
        while self._count > MAX_LAYOUTS:
            last_length, layouts = next(reversed(self._layouts.items()))
            layouts.pop()
            self._count -= 1
            if not layouts:
                del self._layouts[last_length]
