"""A canonical digest of a state object: equal content gives equal hex, in any process.

``pickle.dumps`` is not canonical: two equal dicts built in different insertion orders pickle to
different bytes, sets pickle in hash order (which, for str, changes between processes with
``PYTHONHASHSEED``), the memo makes the bytes depend on object identity (shared vs equal
sub-objects), and ``-0.0``/NaN payloads are easy to miss. :func:`state_digest` walks the object
instead and feeds a SHA-256 with a tagged, length-prefixed encoding:

* ``None``, ``bool``, ``int``, ``str``, ``bytes`` by value; ``float`` by its IEEE-754 bits, with
  every NaN mapped to one NaN (``0.0`` and ``-0.0`` stay different: they are different states);
* ``list``/``tuple`` in order; ``dict`` **sorted by the encoding of the keys** (insertion order is
  ignored); ``set``/``frozenset`` sorted by element encoding;
* numpy arrays by dtype, shape and C-order bytes;
* any other object through ``__reduce_ex__(5)`` (the same protocol pickle uses): the
  reconstructor's ``module.qualname``, its arguments and its state, recursively; so River
  estimators, ``defaultdict``, ``deque`` and slotted classes are covered;
* classes and functions by ``module:qualname`` (like pickle, their code is not hashed);
* a mutable object met a second time (shared or cyclic) is encoded as a back-reference to its
  first position, so cycles terminate and sharing is part of the digest; tuples, frozensets and
  scalars are always encoded by value, so interning does not change the digest.

Rule: two states have the same digest iff they hold the same values in the same structure, up to
dict and set order. Exact types count (``1`` vs ``1.0`` vs ``np.float64(1.0)`` differ). A River
model whose dict order affects float summation can therefore give the same digest for two states
that predict in the last bit differently; compare predictions too where that matters. Objects that
cannot be reduced (open files, generators, locks) raise :class:`StateDigestError`.
"""

from __future__ import annotations

import hashlib
import math
import struct
import types
from typing import Any

from stream_ml.errors import SnapshotError

__all__ = ["StateDigestError", "state_digest"]

_NAN = struct.pack(">d", math.nan)
_LEN = struct.Struct(">Q")
_DOUBLE = struct.Struct(">d").pack
_NAMED = (type, types.FunctionType, types.BuiltinFunctionType)


class StateDigestError(SnapshotError):
    """The state holds an object that has no canonical encoding."""

    code = "state_digest"


def state_digest(obj: object, *, ignore: tuple[type, ...] = ()) -> str:
    """Hex SHA-256 of a canonical encoding of ``obj`` (see the module docstring for the rule).

    Objects of a type in ``ignore`` count only by their type (the engine ignores
    ``random.Random``: River's distributions hold an unseeded one used only by ``sample``).

    Examples:
        >>> a = {"x": 1.0, "y": {3, 1, 2}}
        >>> b = {"y": {2, 3, 1}, "x": 1.0}
        >>> state_digest(a) == state_digest(b)
        True
        >>> state_digest({"x": 1}) == state_digest({"x": 1.0})
        False
    """
    return hashlib.sha256(_Encoder(ignore).encode(obj)).hexdigest()


def _name(obj: Any) -> bytes:
    module = getattr(obj, "__module__", None) or ""
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qual is None:
        raise StateDigestError(f"cannot name {obj!r} for the state digest")
    return f"{module}:{qual}".encode()


def _first(kv: tuple[bytes, Any]) -> bytes:
    return kv[0]


class _Encoder:
    def __init__(self, ignore: tuple[type, ...] = ()) -> None:
        self.ignore = ignore
        self.memo: dict[int, int] = {}
        self.keep: list[object] = []  # keeps reduced temporaries alive so ids stay unique

    def encode(self, obj: object) -> bytes:
        parts: list[bytes] = []
        self._walk(obj, parts)
        return b"".join(parts)

    def _bytes(self, tag: bytes, data: bytes, out: list[bytes]) -> None:
        out += (tag, _LEN.pack(len(data)), data)

    def _walk(self, obj: Any, out: list[bytes]) -> None:
        t = type(obj)
        if obj is None:
            out.append(b"N")
        elif t is bool:
            out.append(b"T" if obj else b"F")
        elif t is int:
            self._bytes(b"i", str(obj).encode(), out)
        elif t is float:
            out += (b"f", _NAN if math.isnan(obj) else struct.pack(">d", obj))
        elif t is str:
            self._bytes(b"s", obj.encode("utf-8", "surrogatepass"), out)
        elif t is bytes or t is bytearray:
            self._bytes(b"b" if t is bytes else b"B", bytes(obj), out)
        else:
            self._walk_container(obj, out)

    def _walk_container(self, obj: Any, out: list[bytes]) -> None:
        t = type(obj)
        if self.ignore and isinstance(obj, self.ignore):
            self._bytes(b"x", _name(t), out)  # ignored: only its type counts
            return
        if t is not tuple and t is not frozenset:  # immutables are encoded by value, never shared
            ref = self.memo.get(id(obj))
            if ref is not None:
                out += (b"@", _LEN.pack(ref))
                return
            self.memo[id(obj)] = len(self.memo)
            self.keep.append(obj)
        if t is list or t is tuple:
            out += (b"l" if t is list else b"t", _LEN.pack(len(obj)))
            walk = self._walk
            for item in obj:
                if type(item) is float:  # the usual item (what _walk does with it)
                    out += (b"f", _NAN if item != item else _DOUBLE(item))
                else:
                    walk(item, out)
        elif t is dict:
            self._mapping(b"d", obj, out)
        elif t is set or t is frozenset:
            items = sorted(map(self._key, obj))
            out += (b"S" if t is set else b"Z", _LEN.pack(len(items)), *items)
        elif t.__module__ == "numpy" and t.__name__ == "ndarray" and obj.dtype != object:
            self._bytes(b"a", f"{obj.dtype.str}{obj.shape}".encode(), out)
            self._bytes(b"", obj.tobytes(order="C"), out)
        elif isinstance(obj, _NAMED):
            self._bytes(b"g", _name(obj), out)
        else:
            self._reduced(obj, out)

    def _key(self, k: Any) -> bytes:
        """The encoding of a dict key or set element on its own (a fresh encoder: no
        back-references into the rest); str and int keys, the usual ones, directly."""
        t = type(k)
        if t is str:
            data = k.encode("utf-8", "surrogatepass")
            return b"s" + _LEN.pack(len(data)) + data
        if t is int:
            data = str(k).encode()
            return b"i" + _LEN.pack(len(data)) + data
        return _Encoder(self.ignore).encode(k)

    def _mapping(self, tag: bytes, obj: dict[Any, Any], out: list[bytes]) -> None:
        key = self._key
        keyed = sorted(((key(k), v) for k, v in obj.items()), key=_first)
        out += (tag, _LEN.pack(len(keyed)))
        walk = self._walk
        for k, v in keyed:
            out.append(k)
            walk(v, out)

    def _reduced(self, obj: Any, out: list[bytes]) -> None:
        try:
            reduced = obj.__reduce_ex__(5)
        except Exception as exc:
            msg = f"cannot digest a {type(obj).__qualname__}: {type(exc).__name__}: {exc}"
            raise StateDigestError(msg) from exc
        if isinstance(reduced, str):  # a global singleton
            self._bytes(b"g", f"{type(obj).__module__}:{reduced}".encode(), out)
            return
        self.keep.append(reduced)
        func, args, *rest = (*reduced, None, None, None)[:5]
        state, listitems, dictitems = rest[0], rest[1], rest[2]
        out.append(b"R")
        self._bytes(b"g", _name(func), out)
        self._walk(tuple(args or ()), out)
        self._walk(state, out)
        self._walk(None if listitems is None else list(listitems), out)
        self._walk(None if dictitems is None else dict(dictitems), out)
