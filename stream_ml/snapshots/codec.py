"""The snapshot codec: state object <-> signed, checksummed, compressed bytes.

A payload is self-describing::

    b"SMLS" | format byte (1) | header length (4 bytes, big endian) | header JSON | body

The header (canonical JSON) names the compression, the pickle protocol and the versions of Python,
River and stream-ml that wrote it; the body is the compressed pickle. The SHA-256 covers the whole
payload; the HMAC-SHA256 signature covers the payload *and* an optional ``context`` (the store
passes the snapshot's immutable metadata, so an offset or a config hash cannot be swapped either).

:func:`decode` checks, in this order and **before anything is unpickled**: the checksum
(:class:`~stream_ml.errors.SnapshotCorrupt`), the signature
(:class:`~stream_ml.errors.SnapshotSignatureError`), the header, and the River version
(:class:`~stream_ml.errors.SnapshotVersionError`). Only then is the body decompressed and
unpickled; any error there is wrapped into a :class:`~stream_ml.errors.SnapshotError`.

Version rule: a snapshot is refused when the River *major.minor* that wrote it differs from the
running one (River changes estimator internals between minor releases), unless
``allow_version_mismatch=True``. Python and stream-ml versions are recorded, not enforced.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import lzma
import os
import pickle
import platform
import struct
import zlib
from typing import Any, Literal

import river

import stream_ml
from stream_ml.errors import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotSignatureError,
    SnapshotVersionError,
)

__all__ = [
    "KEY_ENV_VAR",
    "PICKLE_PROTOCOL",
    "Compression",
    "decode",
    "encode",
    "read_header",
    "resolve_key",
    "sha256_hex",
    "sign",
    "versions",
]

KEY_ENV_VAR = "STREAM_ML_SNAPSHOT_KEY"
PICKLE_PROTOCOL = 5
MAGIC = b"SMLS"
FORMAT = 1
Compression = Literal["auto", "zlib", "lzma", "none"]
_SAMPLE = 8192  # bytes tried by "auto"
_WORTH = 0.8  # "auto" compresses when the sample shrinks below this ratio
_PREFIX = struct.Struct(">4sBI")  # magic, format, header length
_MAX_HEADER = 64 * 1024


def versions() -> dict[str, str]:
    """The versions recorded in every snapshot written by this process."""
    return {
        "python": platform.python_version(),
        "river": river.__version__,
        "stream_ml": stream_ml.__version__,
    }


def resolve_key(key: bytes | str | None) -> bytes | None:
    """The signing key: ``key`` if given, else ``$STREAM_ML_SNAPSHOT_KEY``, else None.

    >>> resolve_key("s3cret")
    b's3cret'
    """
    if key is None:
        key = os.environ.get(KEY_ENV_VAR) or None
    if key is None:
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not raw:
        raise SnapshotSignatureError("the snapshot key is empty")
    return raw


def sha256_hex(payload: bytes) -> str:
    """Hex SHA-256 of ``payload``."""
    return hashlib.sha256(payload).hexdigest()


def sign(key: bytes, payload: bytes, context: bytes = b"") -> str:
    """Hex HMAC-SHA256 over ``len(context) | context | payload`` (lengths prevent ambiguity)."""
    mac = hmac.new(key, struct.pack(">Q", len(context)), hashlib.sha256)
    mac.update(context)
    mac.update(payload)
    return mac.hexdigest()


def encode(
    state: object,
    key: bytes | str | None,
    *,
    context: bytes = b"",
    compression: Compression = "auto",
    level: int | None = None,
) -> tuple[bytes, str, str | None]:
    """Pickle (protocol 5), compress and sign ``state``.

    Returns ``(payload, sha256_hex, signature_hex)``; the signature is None when there is no key
    (neither ``key`` nor ``$STREAM_ML_SNAPSHOT_KEY``). ``level`` is the zlib (0-9) or lzma (0-9)
    preset; the default favours speed (zlib 1, lzma 0). ``"auto"`` (the default) compresses an
    8 KiB sample from the middle of the pickle with zlib and uses zlib only if the sample shrinks
    below 80 %: pickles dominated by floats (Hoeffding trees) barely compress, and zlib would cost
    more than pickling them.

    Examples:
        >>> payload, digest, sig = encode({"w": [1.0, 2.0]}, b"k")
        >>> decode(payload, digest, sig, key=b"k")[0]
        {'w': [1.0, 2.0]}
    """
    try:
        raw = pickle.dumps(state, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        msg = f"cannot pickle the state ({type(state).__name__}): {type(exc).__name__}: {exc}"
        raise SnapshotError(msg) from exc
    if compression == "auto":
        compression = "zlib" if _compresses(raw) else "none"
    if compression == "zlib":
        body = zlib.compress(raw, 1 if level is None else level)
    elif compression == "lzma":
        body = lzma.compress(raw, preset=0 if level is None else level)
    elif compression == "none":
        body = raw
    else:
        raise SnapshotError(f"unknown compression {compression!r}: expected zlib, lzma or none")
    header = {
        "compression": compression,
        "pickle_protocol": PICKLE_PROTOCOL,
        "raw_size": len(raw),
        **versions(),
    }
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    payload = _PREFIX.pack(MAGIC, FORMAT, len(head)) + head + body
    raw_key = resolve_key(key)
    signature = sign(raw_key, payload, context) if raw_key is not None else None
    return payload, sha256_hex(payload), signature


def _compresses(raw: bytes) -> bool:
    if len(raw) <= _SAMPLE:
        return True
    mid = len(raw) // 2
    sample = raw[mid - _SAMPLE // 2 : mid + _SAMPLE // 2]
    return len(zlib.compress(sample, 1)) < _WORTH * len(sample)


def read_header(payload: bytes) -> tuple[dict[str, Any], int]:
    """Parse the header; returns ``(header, body_start)``. Raises SnapshotCorrupt if malformed."""
    if len(payload) < _PREFIX.size:
        raise SnapshotCorrupt(f"payload too short ({len(payload)} bytes) to be a snapshot")
    magic, fmt, n = _PREFIX.unpack_from(payload)
    if magic != MAGIC:
        raise SnapshotCorrupt(f"not a stream-ml snapshot (magic {magic!r}, expected {MAGIC!r})")
    if fmt != FORMAT:
        raise SnapshotCorrupt(f"unknown snapshot format {fmt} (this build reads format {FORMAT})")
    end = _PREFIX.size + n
    if n > _MAX_HEADER or end > len(payload):
        raise SnapshotCorrupt(f"snapshot header length {n} runs past the payload")
    try:
        header = json.loads(payload[_PREFIX.size : end])
    except ValueError as exc:
        raise SnapshotCorrupt(f"snapshot header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict) or "compression" not in header or "river" not in header:
        raise SnapshotCorrupt("snapshot header lacks compression or river version")
    return header, end


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(str(version).split(".")[:2])


def decode(
    payload: bytes,
    sha256: str,
    signature: str | None,
    *,
    key: bytes | str | None,
    context: bytes = b"",
    trust_unsigned: bool = False,
    allow_version_mismatch: bool = False,
) -> tuple[object, dict[str, Any]]:
    """Verify and unpickle a payload written by :func:`encode`; returns ``(state, header)``.

    Raises SnapshotCorrupt (checksum, header, decompression), SnapshotSignatureError (no key, no
    signature, or a signature from another key; skipped only with ``trust_unsigned=True``),
    SnapshotVersionError (another River major.minor; skipped with ``allow_version_mismatch``), all
    before unpickling; an error while unpickling becomes a SnapshotError naming its cause.

    Examples:
        >>> payload, digest, sig = encode([1, 2, 3], b"ours")
        >>> decode(payload, digest, sig, key=b"theirs")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stream_ml.errors.SnapshotSignatureError: snapshot signature does not match the key ...
    """
    payload = bytes(payload)
    actual = sha256_hex(payload)
    if not hmac.compare_digest(actual, str(sha256)):
        raise SnapshotCorrupt(
            f"snapshot checksum mismatch: stored sha256 {sha256}, payload hashes to {actual} "
            f"({len(payload)} bytes); the payload was damaged after it was written"
        )
    if not trust_unsigned:
        raw_key = resolve_key(key)
        if raw_key is None:
            raise SnapshotSignatureError(
                f"no snapshot key: pass key= or set ${KEY_ENV_VAR} to verify the signature "
                "(or trust_unsigned=True to load unverified snapshots, only from a trusted source)"
            )
        if not signature:
            raise SnapshotSignatureError(
                "snapshot is unsigned; refusing to unpickle it (trust_unsigned=True to override, "
                "only for snapshots from a trusted source)"
            )
        expected = sign(raw_key, payload, context)
        if not hmac.compare_digest(expected, str(signature)):
            raise SnapshotSignatureError(
                "snapshot signature does not match the key (written with another key, or its "
                "bytes or metadata were altered); refusing to unpickle it"
            )
    header, start = read_header(payload)
    here = river.__version__
    if not allow_version_mismatch and _major_minor(header["river"]) != _major_minor(here):
        raise SnapshotVersionError(
            f"snapshot written by River {header['river']}, this process runs River {here}: "
            "River major.minor must match (allow_version_mismatch=True to try anyway)"
        )
    body = payload[start:]
    try:
        if header["compression"] == "zlib":
            raw = zlib.decompress(body)
        elif header["compression"] == "lzma":
            raw = lzma.decompress(body)
        elif header["compression"] == "none":
            raw = body
        else:
            raise SnapshotCorrupt(f"unknown compression {header['compression']!r}")
    except (zlib.error, lzma.LZMAError) as exc:
        raise SnapshotCorrupt(f"snapshot body does not decompress: {exc}") from exc
    try:
        state = pickle.loads(raw)
    except Exception as exc:
        raise SnapshotError(
            f"snapshot verified but cannot be unpickled by this process "
            f"(written by {header.get('python')}/river {header['river']}/"
            f"stream-ml {header.get('stream_ml')}): {type(exc).__name__}: {exc}"
        ) from exc
    return state, header
