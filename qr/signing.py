"""Checkpoint label signatures and the label URL format.

A printed label carries ``<base_url>/c/<code>?v=<version>&s=<signature>``. The signature is a
truncated HMAC-SHA256, keyed with the deployment's secret, over the site code, the checkpoint
code and the label version, so that nobody can print working labels for codes they guess, and a
reprinted label (new version) retires the old one.

Everything here is a pure function: no database, no settings, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "CODE_RE",
    "SIGNATURE_LENGTH",
    "LabelPayload",
    "label_url",
    "parse_label",
    "sign",
    "verify",
]

#: Checkpoint codes: uppercase ASCII letters, digits and '-', 1 to 64 characters. URL-safe as is.
CODE_RE = re.compile(r"[A-Z0-9-]{1,64}")
#: Label versions on the wire: a canonical non-negative decimal (no sign, no leading zeros).
_VERSION_RE = re.compile(r"0|[1-9][0-9]{0,17}")
_MAX_VERSION = 10**18
#: HMAC output kept, in bytes. 64 bits: forging a label takes ~2^63 online guesses.
_MAC_BYTES = 8
#: Length of the encoded signature: 8 bytes as unpadded base64url.
SIGNATURE_LENGTH = 11
_SIGNATURE_RE = re.compile(rf"[A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}}")
#: Domain separation: this key is used for nothing else, but a label MAC must never be
#: mistaken for another MAC made with the same secret.
_CONTEXT = b"xunjian/label/v1"
#: Longest text parse_label will look at; a label URL is well under 200 characters.
_MAX_TEXT = 2048
#: Printable ASCII without space: what a label URL is made of.
_URL_CHARS_RE = re.compile(r"[\x21-\x7e]+")


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _message(site_code: str, code: str, version: int) -> bytes:
    # Length-prefixed fields: ("A", "BC") and ("AB", "C") give different messages.
    return b"".join(
        (
            _field(_CONTEXT),
            _field(site_code.encode("utf-8")),
            _field(code.encode("utf-8")),
            _field(str(version).encode("ascii")),
        )
    )


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError(f"label version must be an int, not {type(version).__name__}")
    if not 0 <= version < _MAX_VERSION:
        raise ValueError(f"label version must be in [0, {_MAX_VERSION}), not {version}")
    return version


def sign(secret: bytes, site_code: str, code: str, version: int) -> str:
    """Return the label signature for ``code`` at ``site_code``, label ``version``.

    The result is 11 characters of unpadded base64url (8 bytes of HMAC-SHA256).
    """
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("the label secret must be non-empty bytes")
    if not isinstance(site_code, str) or not isinstance(code, str):
        raise TypeError("site_code and code must be str")
    _check_version(version)
    mac = hmac.new(bytes(secret), _message(site_code, code, version), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:_MAC_BYTES]).rstrip(b"=").decode("ascii")


def verify(secret: bytes, site_code: str, code: str, version: int, signature: str) -> bool:
    """True when ``signature`` is the label signature of (site_code, code, version).

    Total: wrong types or malformed signatures are simply not valid (False), never an exception.
    """
    if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
        return False
    try:
        expected = sign(secret, site_code, code, version)
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, signature)


def label_url(base_url: str, code: str, version: int, signature: str) -> str:
    """The URL printed in a label's QR code. Raises ValueError for a malformed part."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise ValueError(f"invalid checkpoint code {code!r}: uppercase A-Z, 0-9 and '-' only")
    _check_version(version)
    if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
        raise ValueError(f"invalid label signature {signature!r}")
    return f"{base_url.rstrip('/')}/c/{code}?v={version}&s={signature}"


@dataclass(frozen=True, slots=True)
class LabelPayload:
    """What a scanned label says. Not yet trusted: the server checks site, code and signature."""

    code: str
    version: int
    signature: str


def parse_label(text: str) -> LabelPayload | None:
    """Read a scanned label URL; None for anything that is not one of our labels.

    Accepts ``http(s)://<any host>[/<prefix>]/c/<code>?v=<version>&s=<signature>`` (surrounding
    whitespace ignored; the query parameters in either order). Strict: no percent-encoding, no
    repeated or extra parameters, canonical decimal version. Never raises.
    """
    try:
        return _parse_label(text)
    except Exception:  # total by contract: a scanner can hand us anything
        return None


def _parse_label(text: str) -> LabelPayload | None:
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > _MAX_TEXT or not _URL_CHARS_RE.fullmatch(text):
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.fragment:
        return None
    segments = parts.path.split("/")
    if len(segments) < 3 or segments[-2] != "c" or not CODE_RE.fullmatch(segments[-1]):
        return None
    params: dict[str, str] = {}
    for item in parts.query.split("&"):
        key, sep, value = item.partition("=")
        if not sep or key not in ("v", "s") or key in params:
            return None
        params[key] = value
    version, signature = params.get("v"), params.get("s")
    if version is None or signature is None:
        return None
    if not _VERSION_RE.fullmatch(version) or not _SIGNATURE_RE.fullmatch(signature):
        return None
    return LabelPayload(code=segments[-1], version=int(version), signature=signature)
