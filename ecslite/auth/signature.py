"""The SDK-HMAC-SHA256 request signature of the official Huawei Cloud SDKs.

A signature is ``hex(HMAC-SHA256(SK, string_to_sign))`` where::

    string_to_sign    = "SDK-HMAC-SHA256\\n" + X-Sdk-Date + "\\n" + hex(sha256(canonical_request))
    canonical_request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed header names \\n hex(sha256(body))

The canonical URI percent-encodes every path segment (only ``~`` and unreserved characters are
left alone) and always ends in ``/``; the canonical query sorts the decoded (key, value) pairs.
Pure functions, no I/O: the verifier and the signing client share them so they cannot drift.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
REQUIRED_SIGNED = ("host", "x-sdk-date")

_PART = re.compile(r"\s*(Access|SignedHeaders|Signature)=([^,\s]*)\s*")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^`|~-]+$")


@dataclass(frozen=True)
class SignedAuthorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> SignedAuthorization | None:
    """Parse ``SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex``; None if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for chunk in rest.split(","):
        m = _PART.fullmatch(chunk)
        if m is None or m.group(1) in parts:
            return None
        parts[m.group(1)] = m.group(2)
    if set(parts) != {"Access", "SignedHeaders", "Signature"}:
        return None
    names = tuple(parts["SignedHeaders"].split(";"))
    if not parts["Access"] or not all(_HEADER_NAME.match(n) for n in names):
        return None
    if len(set(names)) != len(names):
        return None
    return SignedAuthorization(parts["Access"], names, parts["Signature"].lower())


def parse_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def _enc(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Re-encode each segment of the path as sent; end with ``/`` as the SDK does."""
    uri = "/".join(_enc(seg) for seg in unquote(raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query_string: str) -> str:
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def canonical_request(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body_hash: str,
) -> str:
    """Build the canonical request; ``headers`` maps lower-case names to values."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(query_string),
            lines,
            ";".join(signed_headers),
            body_hash,
        ]
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def compute_signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """Sign a request the way the SDK does; ``headers`` must hold ``host`` and ``x-sdk-date``.

    Every given header whose name has no ``_`` is signed (the SDK's rule).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    signed = sorted(k for k in lower if "_" not in k)
    canonical = canonical_request(
        method=method,
        raw_path=raw_path,
        query_string=query_string,
        headers=lower,
        signed_headers=signed,
        body_hash=payload_hash(body),
    )
    sig = compute_signature(secret_key, string_to_sign(lower["x-sdk-date"], canonical))
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed)}, Signature={sig}"
