"""Typed errors of the HAN decoder.

Each layer raises its own subclass so callers can act on the one they understand:
the stream decoder counts checksum failures, the config flow asks for a key on
``DecryptionError``, and nothing else needs to know how a frame was broken.
"""

from __future__ import annotations


class HanError(Exception):
    """Base of every error the decoder raises on purpose."""


class FrameError(HanError):
    """A link-layer frame is malformed: bad length, flag, checksum or header."""


class ChecksumError(FrameError):
    """A frame is complete but its HCS, FCS, M-Bus checksum or P1 CRC is wrong."""


class ApduError(HanError):
    """The application data unit inside a valid frame cannot be decoded."""


class DecryptionError(HanError):
    """An encrypted APDU could not be opened: no key, wrong key or failed tag."""


class MissingKeyError(DecryptionError):
    """The meter encrypts its data and no encryption key was configured."""
