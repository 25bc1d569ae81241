"""xDLMS APDUs a meter pushes: data-notification, its ciphered forms and block transfer.

Encryption is AES-128-GCM as the DLMS security suite 0 defines it; the keys are
the customer's GUEK (encryption) and optionally the GAK (authentication).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .axdr import DateTimeValue, Value, decode_value, decode_values, read_length
from .errors import ApduError, DecryptionError, MissingKeyError

LLC_PREFIXES = (b"\xe6\xe7\x00", b"\xe6\xe6\x00")
DATA_NOTIFICATION = 0x0F
GLO_CIPHERING = 0xDB
DED_CIPHERING = 0xDC
BLOCK_TRANSFER = 0xE0
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
TAG_LENGTH = 12
MAX_BLOCKS_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Keys:
    """The customer's keys: encryption (GUEK) and optional authentication (GAK)."""

    encryption: bytes
    authentication: bytes | None = None

    def __post_init__(self) -> None:
        """Reject keys of the wrong size at configuration time, not per frame."""
        if len(self.encryption) != 16:
            raise ValueError("the encryption key must be 16 bytes (32 hex digits)")
        if self.authentication is not None and len(self.authentication) != 16:
            raise ValueError("the authentication key must be 16 bytes (32 hex digits)")

    @classmethod
    def from_hex(cls, encryption: str, authentication: str | None = None) -> Keys:
        """Build keys from hex text as users copy them from the grid company's letter."""
        try:
            enc = bytes.fromhex(encryption.replace(" ", ""))
            auth = (
                bytes.fromhex(authentication.replace(" ", ""))
                if authentication
                else None
            )
        except ValueError as err:
            raise ValueError("keys must be hexadecimal") from err
        return cls(enc, auth)


@dataclass(slots=True)
class Notification:
    """A decoded data-notification: the meter's push of one list."""

    invoke_id: int
    timestamp: DateTimeValue | None
    body: list[Value]
    encrypted: bool = False
    system_title: bytes | None = None
    plaintext: bytes | None = None


def strip_llc(data: bytes) -> bytes:
    """Drop the LLC header that HDLC carries before the APDU."""
    if data[:3] in LLC_PREFIXES:
        return data[3:]
    return data


def decode_apdu(data: bytes, keys: Keys | None = None) -> Notification:
    """Decode a complete APDU (LLC header optional) into a notification.

    Ciphered APDUs are opened with ``keys``; a missing key raises
    ``MissingKeyError`` and a wrong one ``DecryptionError``, so callers never see
    values decoded from a wrong plaintext.
    """
    plaintext, system_title, encrypted = unwrap(strip_llc(data), keys)
    try:
        notification = _data_notification(plaintext)
    except ApduError as err:
        if encrypted:
            raise DecryptionError(
                "decrypted data is not a valid APDU (wrong key?)"
            ) from err
        raise
    notification.encrypted = encrypted
    notification.system_title = system_title
    if encrypted:
        notification.plaintext = plaintext
    return notification


def unwrap(data: bytes, keys: Keys | None) -> tuple[bytes, bytes | None, bool]:
    """Return (data-notification bytes, system title, whether it was encrypted).

    Plain notifications pass through; ciphered ones are decrypted. The result is
    not yet validated: a wrong key shows when the plaintext fails to decode.
    """
    if not data:
        raise ApduError("empty APDU")
    tag = data[0]
    if tag == DATA_NOTIFICATION:
        return data, None, False
    if tag in (GLO_CIPHERING, DED_CIPHERING):
        if keys is None and (relayed := _relayed_plaintext(data)) is not None:
            return relayed[1], relayed[0], False
        system_title, plaintext = decrypt(data, keys)
        if plaintext[:1] != bytes((DATA_NOTIFICATION,)):
            raise DecryptionError(
                "decrypted data is not a data-notification (wrong key?)"
            )
        return plaintext, system_title, True
    if tag == BLOCK_TRANSFER:
        raise ApduError("general-block-transfer must be reassembled first")
    raise ApduError(f"unsupported APDU tag 0x{tag:02x}")


def _relayed_plaintext(data: bytes) -> tuple[bytes, bytes] | None:
    """Accept a ciphering header around a plaintext notification.

    Some gateways decrypt in place and forward the APDU with its ciphering
    header intact. Only a body that decodes completely as a data-notification is
    taken; real ciphertext fails that check and leads to ``MissingKeyError``.
    Returns (system title, notification bytes).
    """
    try:
        pos = 1
        title_length, pos = read_length(data, pos)
        system_title = data[pos : pos + title_length]
        pos += title_length
        length, pos = read_length(data, pos)
        body = data[pos + 5 : pos + length]
        if len(system_title) != 8 or body[:1] != bytes((DATA_NOTIFICATION,)):
            return None
        _data_notification(body)
    except ApduError, IndexError:
        return None
    return system_title, body


def _data_notification(data: bytes) -> Notification:
    if len(data) < 6:
        raise ApduError("truncated data-notification")
    invoke_id = int.from_bytes(data[1:5])
    pos = 5
    marker = data[pos]
    timestamp: DateTimeValue | None = None
    # The optional date-time is written three ways in the field: absent (00), as
    # a tagged octet-string (09 0C ...) or as a bare length (0C ...).
    if marker == 0x09:
        length, pos = read_length(data, pos + 1)
        raw = data[pos : pos + length]
        pos += length
        if length == 12:
            timestamp = DateTimeValue(raw)
    elif marker == 0x00:
        pos += 1
    elif marker == 0x0C:
        raw = data[pos + 1 : pos + 13]
        pos += 13
        timestamp = DateTimeValue(raw)
    elif marker == 0x19:
        value, pos = decode_value(data, pos)
        if isinstance(value, DateTimeValue):
            timestamp = value
    if pos > len(data):
        raise ApduError("truncated data-notification header")
    if pos == len(data):
        raise ApduError("data-notification without body")
    return Notification(
        invoke_id=invoke_id, timestamp=timestamp, body=decode_values(data, pos)
    )


def decrypt(data: bytes, keys: Keys | None) -> tuple[bytes, bytes]:
    """Open a general-glo/ded-ciphering APDU; return (system title, plaintext)."""
    pos = 1
    title_length, pos = read_length(data, pos)
    system_title = data[pos : pos + title_length]
    pos += title_length
    length, pos = read_length(data, pos)
    if len(system_title) != 8 or length < 5 or pos + length > len(data):
        raise ApduError("malformed ciphered APDU")
    security_control = data[pos]
    invocation = data[pos + 1 : pos + 5]
    body = data[pos + 5 : pos + length]
    if not security_control & SC_ENCRYPTED:
        raise ApduError(f"unsupported security control 0x{security_control:02x}")
    if keys is None:
        raise MissingKeyError(
            "the meter encrypts its data; an encryption key is needed"
        )
    iv = system_title + invocation
    authenticated = bool(security_control & SC_AUTHENTICATED)
    if authenticated:
        if len(body) < TAG_LENGTH:
            raise ApduError("ciphered APDU shorter than its tag")
        ciphertext, tag = body[:-TAG_LENGTH], body[-TAG_LENGTH:]
    else:
        ciphertext, tag = body, b""
    if authenticated and keys.authentication is not None:
        aad = bytes([security_control]) + keys.authentication
        decryptor = Cipher(
            algorithms.AES(keys.encryption),
            modes.GCM(iv, tag, min_tag_length=TAG_LENGTH),
        ).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return system_title, decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag as err:
            raise DecryptionError(
                "authentication failed: wrong encryption or authentication key"
            ) from err
    # Without the authentication key GCM reduces to AES-CTR from counter 2; the
    # plaintext is then validated by the caller's structural decode.
    counter = Cipher(
        algorithms.AES(keys.encryption), modes.CTR(iv + b"\x00\x00\x00\x02")
    ).decryptor()
    return system_title, counter.update(ciphertext) + counter.finalize()


class BlockAssembler:
    """Reassembles general-block-transfer (0xE0) into the APDU it carries.

    Blocks must arrive in order; a gap or an oversized transfer drops the
    partial APDU so that memory stays bounded.
    """

    def __init__(self) -> None:
        """Start with no transfer in progress."""
        self._parts: list[bytes] = []
        self._size = 0
        self._next = 1

    def feed(self, data: bytes) -> bytes | None:
        """Add one GBT APDU; return the whole inner APDU when its last block arrives."""
        if len(data) < 6:
            raise ApduError("truncated block transfer")
        control = data[0 + 1]
        number = int.from_bytes(data[2:4])
        length, pos = read_length(data, 6)
        block = data[pos : pos + length]
        if len(block) != length:
            raise ApduError("truncated block transfer data")
        if number == 1:
            self.reset()
        elif number != self._next:
            self.reset()
            raise ApduError("general-block-transfer block out of order")
        self._parts.append(block)
        self._size += length
        self._next = number + 1
        if self._size > MAX_BLOCKS_BYTES:
            self.reset()
            raise ApduError("general-block-transfer too large")
        if control & 0x80:
            apdu = b"".join(self._parts)
            self.reset()
            return apdu
        return None

    def reset(self) -> None:
        """Forget a partial transfer."""
        self._parts = []
        self._size = 0
        self._next = 1
