from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_service


def _redis() -> Any:
    import redis

    r = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        r.ping()
    except Exception:
        return None
    return r


@pytest.fixture
def redis_client() -> Iterator[Any]:
    r = _redis()
    require_service("redis", r is not None)
    yield r
    r.close()


@pytest.fixture
def names(redis_client) -> Iterator[Any]:
    """Unique key names for one test; every key under the prefix is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:10]}"
    yield lambda name: f"{prefix}:{name}"
    keys = list(redis_client.scan_iter(match=f"{prefix}:*"))
    if keys:
        redis_client.delete(*keys)
