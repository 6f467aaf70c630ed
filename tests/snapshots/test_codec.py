"""The codec alone: round trips, checksum, signatures and version checks before unpickling."""

from __future__ import annotations

import pathlib
import pickle
from pathlib import Path

import pytest
import river
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_ml.errors import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotSignatureError,
    SnapshotVersionError,
)
from stream_ml.snapshots import codec, decode, encode, state_digest
from tests.snapshots.conftest import KEY, OTHER_KEY


class WritesMarker:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.write_text, (self.marker, "code ran while unpickling"))


class Unimportable:
    pass


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
)
states = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text() | st.integers(), inner)
        | st.frozensets(st.integers() | st.text())
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(state=states, compression=st.sampled_from(["auto", "zlib", "lzma", "none"]))
def test_round_trip_any_picklable_state(state: object, compression: str) -> None:
    payload, digest, sig = encode(state, KEY, compression=compression)  # type: ignore[arg-type]
    back, header = decode(payload, digest, sig, key=KEY)
    assert back == state
    assert state_digest(back) == state_digest(state)
    assert header["river"] == river.__version__


def test_signature_binds_context() -> None:
    payload, digest, sig = encode([1], KEY, context=b"offset=10")
    assert decode(payload, digest, sig, key=KEY, context=b"offset=10")[0] == [1]
    with pytest.raises(SnapshotSignatureError):
        decode(payload, digest, sig, key=KEY, context=b"offset=11")


@pytest.mark.parametrize("damage", ["flip", "truncate", "zero"])
def test_damaged_payload_is_corrupt(damage: str) -> None:
    payload, digest, sig = encode({"w": list(range(100))}, KEY)
    bad = bytearray(payload)
    if damage == "flip":
        bad[len(bad) // 2] ^= 0x01
    elif damage == "truncate":
        del bad[-7:]
    else:
        bad[20:40] = bytes(20)
    with pytest.raises(SnapshotCorrupt, match="checksum mismatch"):
        decode(bytes(bad), digest, sig, key=KEY)


def test_code_running_payload_refused_before_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for key in (OTHER_KEY, None):  # foreign, then unsigned
        payload, digest, sig = encode(WritesMarker(marker), key)
        with pytest.raises(SnapshotSignatureError):
            decode(payload, digest, sig, key=KEY)
        assert not marker.exists()
    # No key configured at all: refused too.
    payload, digest, sig = encode(WritesMarker(marker), KEY)
    with pytest.raises(SnapshotSignatureError, match="no snapshot key"):
        decode(payload, digest, sig, key=None)
    assert not marker.exists()
    # The payload really is dangerous: opting in runs it.
    decode(payload, digest, None, key=None, trust_unsigned=True)
    assert marker.exists()


def _as_river(payload: bytes, version: str) -> bytes:
    here = f'"river":"{river.__version__}"'.encode()
    there = f'"river":"{version}"'.encode()
    assert len(here) == len(there) and payload.count(here) == 1
    return payload.replace(here, there)


def test_other_river_minor_refused_before_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload, _, _ = encode(WritesMarker(marker), KEY, compression="none")
    major, minor, _patch = river.__version__.split(".")
    old = _as_river(payload, f"{major}.{int(minor) - 1}.9")
    digest, sig = codec.sha256_hex(old), codec.sign(KEY, old)
    with pytest.raises(SnapshotVersionError, match=r"River major\.minor must match"):
        decode(old, digest, sig, key=KEY)
    assert not marker.exists()
    # Another patch release is fine.
    patch = _as_river(encode([1, 2], KEY)[0], f"{major}.{minor}.7")
    assert decode(patch, codec.sha256_hex(patch), codec.sign(KEY, patch), key=KEY)[0] == [1, 2]
    # Opting in loads it.
    _state, header = decode(old, digest, sig, key=KEY, allow_version_mismatch=True)
    assert marker.exists() and header["river"].endswith(".9")


def test_unpickling_error_is_wrapped() -> None:
    payload, _, _ = encode(Unimportable(), KEY, compression="none")
    name = b"Unimportable"
    assert payload.count(name) == 1
    moved = payload.replace(name, b"Unimportabl_")
    with pytest.raises(SnapshotError, match="cannot be unpickled") as err:
        decode(moved, codec.sha256_hex(moved), codec.sign(KEY, moved), key=KEY)
    assert type(err.value) is SnapshotError
    assert isinstance(err.value.__cause__, AttributeError)


def test_garbage_header_is_corrupt() -> None:
    junk = b"not a snapshot at all"
    with pytest.raises(SnapshotCorrupt, match="not a stream-ml snapshot"):
        decode(junk, codec.sha256_hex(junk), codec.sign(KEY, junk), key=KEY)


def test_unpicklable_state_is_a_snapshot_error() -> None:
    with pytest.raises(SnapshotError, match="cannot pickle"):
        encode(lambda: 1, KEY)


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codec.KEY_ENV_VAR, KEY.decode())
    payload, digest, sig = encode({"a": 1}, None)
    assert sig == codec.sign_digest(KEY, digest)
    assert decode(payload, digest, sig, key=None)[0] == {"a": 1}
    assert pickle.loads(pickle.dumps(codec.versions())) == codec.versions()
