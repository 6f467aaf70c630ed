"""States pickled before the DataSketches switch (hand-written HyperLogLog, River's P-square)
restore and go on as they were; new states never use the old sketches.

``OLD`` is ``zlib(pickle([d, e, q, r]))`` written by the code of commit 44035f2: ``d`` a
DistinctSketch(bound 50) past its bound (HyperLogLog) after 2,000 values (700 distinct), ``e`` one
still exact (30 values, a set), ``q`` a QuantileSketch(0.5, bound 50) past its bound (P-square)
after 2,000 values, ``r`` one still exact (q 0.9, 30 values). The expected reads are what that
code printed for them.
"""

from __future__ import annotations

import base64
import pickle
import zlib

import pytest

from stream_ml.features.aggregates.distinct import DistinctSketch, get_distinct
from stream_ml.features.aggregates.quantile import LegacyPSquare, QuantileSketch, get_quantile
from stream_ml.features.sketches import HllCount
from stream_ml.features.sketches.hyperloglog import HyperLogLog

OLD = "eNqNWDtvJEUQ7qruGe9y6OTAEgQECKE787Ju12/g5BWcZJAPS2cSkpO1tgfvij0/9oFwcAICEMFIh0QjREROfhIhPwAkEhKiC0EiuIiYnp6pmX7N2KP1zLc9VdXV1V9/3d4vxPcPF5i+7svF9MZkOk76D/YfjJY+TvrT2TiZLPWPj8fJcX+q4NFwMh2eHE5lev1OAT/8JJkeDuR38pUv5e5DFSI6OJ2dHMmdbsoPT0dyh6VR8llf+eymfDAayfRmoI+JjqLA4OIsGY9Oj9VHptfey77dPT1WH6MHOJM7z6ZtlZTKIRlPZNo6mA1HKh0F2wcX06Q/HvcvlMc7bJ4VFzLjAvVBxAKWjboBgdmXYCxmSP48txWWCb2MrC7U1TICWy/ypoiB25WTJnOzqblcM6weYI3RTzoUjJcIwC1csFskyJn9dCJj+YAyvSoVDOQFRv2UH0RGr3HNUMwceWEANcUCGhOU9a8oAF5Qu5bcD6fb0JtGtGdHhKpf1Lp6BbwMXgSIwaw3isK8ygNp0NwgNQRYhFZ6Iv8eUx4QZCAEywJecxx5/QiP36ovXgwYwSSsQ2adEweeGaNVeL2KucM2rIYGDgsuWUDYtDSykvCK7ryqNpY9CX8dztnTl6fC/WnnhQ3H5iyDr1WAlpE4sdi21VwBJjizNCG8nCEgVszhmJ8r2FoHnm6gGmeuecLRk7mSaqKsKAQWEqe43BBMsASc/DnUqgKwRmV1xoVQI7IFa3hFClcVy/HFNPfo9IMNOlzxOIaA1gjwM0KXGFi7VeTDosUb2bUpHOuXDa/NGIr9lblKyUNJQihUOfDI3Rq5IQoeOTMGCJP6nBlk5/ZGDPVbqNIadsWL1+7Uwg0snN6EYykMzdCkMoOiv/faXYqGJJG1fScopx2w3L+hYXqhZJ25NOfA6t6OgoYYi5J2wHhoY40Dx4zinAVoH0s8d2F/FzpPX47D8hlIJkt7Lt93ytkCDByQ0BIpZR2JBorZqx9ZkwxVi9/JGnjdPGFAdGkpEveRlgNU0fw8ouCOAMj86KrNZRdC8JzYDh3uLAGEcgQ+nSMWX3Lm1X75hOXCYTIdOAC7kuK7Sw3NInPWNGlgnTnjoETVZyGcM09ZGn61UwxWeYuarQwCAqbETjiq0JRinUVMtcLGE0Vk8ikqTyYuW4TlHDgtUx0BzJHGvG6wEK4glGrDG3UhNveRIid3646qjRlcUeHGfyvmxMRhYcJGmoryHGycAASjTc7/N7RSbKyhHY0FAB31ccWdQV2OYNzQoj76NM/nHp1m8Nci9w/oYMaFhiO9jim/knty9rU8yP4GvPgVYRDvdAdzO2zQeiQXUzxclyk/7NzS9xWpGtay24r+vpzdux19X9Mtq9nLTd2wkcH8XVffdYyu9uxqz85mZrKhG7RPRxt2OlnzqoY6anc9a8jfaeuObljObnnQVfntoL2bjeOyX2rOZ/2T6XCUyPT6vQK6v9RQBVI8U30ujIefJuOlybQ/Nb1b5J37ZT+/tPer18/lXvv6sT+eTaZ5BJk+szexXd/9OZ+VJ1v2LP2xZbf/XTyf2s+7n/f0886j/Hn+Q/7s/dSz7HqFXa+wO3Pt1JEl+uVeb36z989/Nzf+eu393huPf3zc+XMvf//rR70IVH2v7Q8n+7OzI1XNI/lNCudye+tJ7j87GHxQfknjyek4s9HTMrjt0qu3mxn/+1t2/T7YvS8XtymP7a2nBaDUtnstAvMEFgg8T+AFAi8SeInAywRuEFgk8CqB1wksEbhFoEOgS2CZwAqBVQJrBNYJbBDYJPAmgbcIvE3gdg6SrGzJ0v+vVEFZ"


def _old() -> list:
    return pickle.loads(zlib.decompress(base64.b64decode(OLD)))


def test_old_states_restore_with_the_same_values_and_go_on() -> None:
    d, e, q, r = _old()
    assert isinstance(d.hll, HyperLogLog) and d.exact is None
    assert isinstance(e.exact, dict) and e.hll is None
    assert isinstance(q.digest, LegacyPSquare) and q.sorted is None
    assert r.sorted is not None and r.digest is None
    assert get_distinct(d, 0.0) == pytest.approx(691.1684553423825, rel=1e-12)
    assert get_distinct(e, 0.0) == 30
    assert get_quantile(q, 0.0) == pytest.approx(50.34259702636138, rel=1e-12)
    assert get_quantile(r, 0.0) == pytest.approx(26.1, rel=1e-12)
    d.update(("new",), 0.0)
    q.update((1000.0,), 0.0)  # the old code printed these after the same updates
    assert get_distinct(d, 0.0) == pytest.approx(692.3524414757892, rel=1e-12)
    assert get_quantile(q, 0.0) == pytest.approx(50.392864578509766, rel=1e-12)
    for state in (d, q):  # they pickle again and copy
        back = pickle.loads(pickle.dumps(state))
        assert type(back) is type(state)
        assert (get_distinct if isinstance(state, DistinctSketch) else get_quantile)(back, 0.0) == (
            get_distinct if isinstance(state, DistinctSketch) else get_quantile
        )(state, 0.0)


def test_an_old_exact_state_switches_to_the_new_sketch() -> None:
    _, e, _, r = _old()
    for i in range(100):
        e.update((f"x{i}",), 0.0)
        r.update((float(i),), 0.0)
    assert isinstance(e.hll, HllCount) and round(get_distinct(e, 0.0)) == 130
    assert isinstance(r, QuantileSketch) and r.sorted is None and r.digest is not None
    assert not isinstance(r.digest, LegacyPSquare)


def test_old_and_new_sketches_do_not_merge() -> None:
    d, _, q, _ = _old()
    new_d, new_q = DistinctSketch(0, 1), QuantileSketch(0, (0.5, 1))
    for v in (1.0, 2.0, 3.0):
        new_d.update((v,), 0.0)
        new_q.update((v,), 0.0)
    with pytest.raises(TypeError, match="does not merge"):
        d.merge(new_d)
    with pytest.raises(TypeError, match="does not merge"):
        q.merge(new_q)
