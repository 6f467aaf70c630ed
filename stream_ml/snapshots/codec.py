"""The snapshot codec: state object <-> signed, checksummed, compressed bytes.

A payload is self-describing::

    b"SMLS" | format byte (1) | header length (4 bytes, big endian) | header JSON | body

The header (canonical JSON) names the compression, the pickle protocol and the versions of Python,
River and stream-ml that wrote it; the body is the compressed pickle. The SHA-256 covers the whole
payload. The signature (format 2, written as ``"2:" + hex``) is an HMAC-SHA256 over an optional
``context`` *and the payload's SHA-256*: the store passes every metadata column a reader trusts,
so neither the bytes nor an offset, a size or a River version can be swapped, and the metadata
can be verified without reading the payload. Format 1 signatures (bare hex, written before
format 2: an HMAC over the context and the whole payload) still verify.

Trust rule (:func:`check_signature`): a snapshot with **no** signature is accepted only with
``trust_unsigned=True``; a signature that does not verify under the key in use is refused
always, even with ``trust_unsigned=True``; a signed snapshot read with no key at all is accepted
unverified only with ``trust_unsigned=True``.

:func:`decode` checks, in this order and **before anything is unpickled**: the checksum
(:class:`~stream_ml.errors.SnapshotCorrupt`), the signature
(:class:`~stream_ml.errors.SnapshotSignatureError`), the header, and the River version
(:class:`~stream_ml.errors.SnapshotVersionError`) (:func:`verify` does exactly that, and no
more). Only then is the body decompressed and unpickled (:func:`unpickle`); any error there is
wrapped into a :class:`~stream_ml.errors.SnapshotError`.

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
    "SIGNATURE_V2",
    "Compression",
    "SignatureStatus",
    "check_signature",
    "decode",
    "encode",
    "read_header",
    "resolve_key",
    "sha256_hex",
    "sign",
    "sign_digest",
    "unpickle",
    "verify",
    "versions",
]

KEY_ENV_VAR = "STREAM_ML_SNAPSHOT_KEY"
PICKLE_PROTOCOL = 5
MAGIC = b"SMLS"
FORMAT = 1
SIGNATURE_V2 = "2:"  # prefix of format-2 signatures (HMAC over context and SHA-256)
Compression = Literal["auto", "zlib", "lzma", "none"]
SignatureStatus = Literal["verified", "unsigned", "unverified"]
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


def sign_digest(key: bytes, sha256: str, context: bytes = b"") -> str:
    """Format-2 signature: ``"2:"`` + :func:`sign` over ``context`` and the payload's hex SHA-256.

    The checksum binds the payload, so this signature binds payload and context while costing
    one HMAC over a few hundred bytes, and it verifies without the payload.

    >>> sign_digest(b"k", "00" * 32, b"ctx")[:10]
    '2:374267a9'
    """
    return SIGNATURE_V2 + sign(key, str(sha256).encode("ascii"), context)


def check_signature(
    signature: str | None,
    *,
    key: bytes | str | None,
    sha256: str,
    context: bytes = b"",
    payload: bytes | None = None,
    trust_unsigned: bool = False,
) -> SignatureStatus:
    """Apply the trust rule (module docs); returns how far the signature was verified.

    ``sha256`` must be the payload's *actual* hash (or the stored one, when only the metadata
    is checked); ``payload`` is needed for format-1 signatures only. Returns ``"verified"``,
    ``"unsigned"`` (no signature, ``trust_unsigned``) or ``"unverified"`` (signed, no key,
    ``trust_unsigned``); raises :class:`~stream_ml.errors.SnapshotSignatureError` otherwise.
    A signature that does not match the key in use is refused whatever ``trust_unsigned`` says.

    Examples:
        >>> digest = "ab" * 32
        >>> check_signature(sign_digest(b"k", digest), key=b"k", sha256=digest)
        'verified'
        >>> check_signature(None, key=b"k", sha256=digest, trust_unsigned=True)
        'unsigned'
        >>> check_signature(sign_digest(b"other", digest), key=b"k", sha256=digest,
        ...     trust_unsigned=True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stream_ml.errors.SnapshotSignatureError: snapshot signature does not match the key ...
    """
    raw_key = resolve_key(key)
    if not signature:
        if trust_unsigned:
            return "unsigned"
        if raw_key is None:
            raise SnapshotSignatureError(_NO_KEY)
        raise SnapshotSignatureError(
            "snapshot is unsigned; refusing to unpickle it (trust_unsigned=True to override, "
            "only for snapshots from a trusted source)"
        )
    if raw_key is None:
        if trust_unsigned:
            return "unverified"
        raise SnapshotSignatureError(_NO_KEY)
    signature = str(signature)
    if signature.startswith(SIGNATURE_V2):
        expected = sign_digest(raw_key, sha256, context)
    elif payload is None:
        raise SnapshotSignatureError(
            "a format-1 signature can only be checked against the payload; none was given"
        )
    else:
        expected = sign(raw_key, payload, context)
    if not hmac.compare_digest(expected, signature):
        raise SnapshotSignatureError(
            "snapshot signature does not match the key (written with another key, or its "
            "bytes or metadata were altered); refusing it even with trust_unsigned"
        )
    return "verified"


_NO_KEY = (
    f"no snapshot key: pass key= or set ${KEY_ENV_VAR} to verify the signature "
    "(or trust_unsigned=True to load unverified snapshots, only from a trusted source)"
)


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
    digest = sha256_hex(payload)
    signature = sign_digest(raw_key, digest, context) if raw_key is not None else None
    return payload, digest, signature


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


def verify(
    payload: bytes,
    sha256: str,
    signature: str | None,
    *,
    key: bytes | str | None,
    context: bytes = b"",
    trust_unsigned: bool = False,
    allow_version_mismatch: bool = False,
) -> dict[str, Any]:
    """Every check of :func:`decode` (checksum, signature, header, River version), no unpickling.

    Returns the payload's header. Raises SnapshotCorrupt, SnapshotSignatureError or
    SnapshotVersionError, like :func:`decode`.

    >>> payload, digest, sig = encode([1], b"k", compression="none")
    >>> verify(payload, digest, sig, key=b"k")["compression"]
    'none'
    """
    payload = bytes(payload)
    actual = sha256_hex(payload)
    if not hmac.compare_digest(actual, str(sha256)):
        raise SnapshotCorrupt(
            f"snapshot checksum mismatch: stored sha256 {sha256}, payload hashes to {actual} "
            f"({len(payload)} bytes); the payload was damaged after it was written"
        )
    check_signature(
        signature,
        key=key,
        sha256=actual,
        context=context,
        payload=payload,
        trust_unsigned=trust_unsigned,
    )
    header, _start = read_header(payload)
    here = river.__version__
    if not allow_version_mismatch and _major_minor(header["river"]) != _major_minor(here):
        raise SnapshotVersionError(
            f"snapshot written by River {header['river']}, this process runs River {here}: "
            "River major.minor must match (allow_version_mismatch=True to try anyway)"
        )
    return header


def unpickle(payload: bytes, header: dict[str, Any]) -> object:
    """Decompress and unpickle a payload that :func:`verify` accepted (never call it before)."""
    _header, start = read_header(payload)
    body = bytes(payload)[start:]
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
        return pickle.loads(raw)
    except Exception as exc:
        raise SnapshotError(
            f"snapshot verified but cannot be unpickled by this process "
            f"(written by {header.get('python')}/river {header['river']}/"
            f"stream-ml {header.get('stream_ml')}): {type(exc).__name__}: {exc}"
        ) from exc


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

    Raises SnapshotCorrupt (checksum, header, decompression), SnapshotSignatureError (no key or
    no signature, both skipped only with ``trust_unsigned=True``; a signature from another key
    or over altered metadata, never skipped), SnapshotVersionError (another River major.minor;
    skipped with ``allow_version_mismatch``), all before unpickling; an error while unpickling
    becomes a SnapshotError naming its cause.

    Examples:
        >>> payload, digest, sig = encode([1, 2, 3], b"ours")
        >>> decode(payload, digest, sig, key=b"theirs")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stream_ml.errors.SnapshotSignatureError: snapshot signature does not match the key ...
        >>> decode(payload, digest, None, key=None, trust_unsigned=True)[0]
        [1, 2, 3]
    """
    header = verify(
        payload,
        sha256,
        signature,
        key=key,
        context=context,
        trust_unsigned=trust_unsigned,
        allow_version_mismatch=allow_version_mismatch,
    )
    return unpickle(payload, header), header
