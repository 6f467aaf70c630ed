"""Checks of one snapshot row without unpickling it: signature, metadata columns, tags.

:func:`check_row` is what ``SnapshotStore.checks()`` (metadata only: cheap, no payload read) and
``SnapshotStore.verify()`` (with the payload: checksum, format-1 signatures, columns against the
payload's header) apply to every row; :func:`column_mismatch` is also applied by every load.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream_ml.errors import SnapshotCorrupt, SnapshotError, SnapshotSignatureError
from stream_ml.snapshots import codec
from stream_ml.snapshots.info import SnapshotCheck
from stream_ml.snapshots.schema import HEADER_COLUMNS, context_for, tag_context

__all__ = ["check_row", "column_mismatch", "sign_tag"]


def sign_tag(key: bytes, version: int, tag: str, sha256: str) -> str:
    """The mac of one tag (binds the tag to its snapshot's version and SHA-256)."""
    return codec.sign(key, b"", tag_context(version, tag, sha256))


def column_mismatch(row: dict[str, Any], header: dict[str, Any], payload: bytes) -> str | None:
    """Why the row's size, codec or version columns disagree with the payload, or None.

    >>> payload, digest, _ = codec.encode([1], None, compression="none")
    >>> header = codec.read_header(payload)[0]
    >>> row = {"size": len(payload), "codec": "none", "python_version": header["python"],
    ...     "river_version": "0.0.1", "stream_ml_version": header["stream_ml"]}
    >>> column_mismatch(row, header, payload)  # doctest: +ELLIPSIS
    "column river_version says '0.0.1', the payload's header says '...'"
    """
    if row["size"] != len(payload):
        return f"column size says {row['size']}, the payload has {len(payload)} bytes"
    for column, field in HEADER_COLUMNS.items():
        found = header.get(field)
        if row[column] != found:
            return f"column {column} says {row[column]!r}, the payload's header says {found!r}"
    return None


def check_row(
    row: dict[str, Any],
    tags: Iterable[tuple[str, str | None]],
    *,
    key: bytes | None,
    trust_unsigned: bool,
    payload: bytes | None = None,
) -> SnapshotCheck:
    """Check one row (and its ``(tag, mac)`` pairs) as a load would, without unpickling.

    Without ``payload`` only the metadata is checked: a format-2 signature fully (it covers the
    stored SHA-256), a format-1 one not at all (``"unchecked"``).
    """
    version = int(row["version"])
    signature = row["signature"] or None
    fmt = None if signature is None else (2 if signature.startswith(codec.SIGNATURE_V2) else 1)
    unsigned_tags: list[str] = []
    try:
        if payload is not None and codec.sha256_hex(payload) != row["sha256"]:
            raise SnapshotCorrupt("payload checksum mismatch: the payload was damaged")
        status: Any
        if fmt == 1 and payload is None and key is not None:
            status = "unchecked"
        else:
            status = codec.check_signature(
                signature,
                key=key,
                sha256=row["sha256"],
                context=context_for(row),
                payload=payload,
                trust_unsigned=trust_unsigned,
            )
        if payload is not None:
            problem = column_mismatch(row, codec.read_header(payload)[0], payload)
            if problem is not None:
                cls = SnapshotSignatureError if status == "verified" else SnapshotCorrupt
                raise cls(f"metadata does not match the signed payload: {problem}")
        for tag, mac in tags:
            if mac is None:
                unsigned_tags.append(tag)
            elif key is not None and mac != sign_tag(key, version, tag, row["sha256"]):
                raise SnapshotSignatureError(f"tag {tag!r} does not verify (edited or moved)")
    except SnapshotError as exc:
        return SnapshotCheck(version, "refused", exc.code, str(exc), fmt, tuple(unsigned_tags))
    return SnapshotCheck(version, status, None, None, fmt, tuple(unsigned_tags))
