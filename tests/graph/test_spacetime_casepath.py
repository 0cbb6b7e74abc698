"""Fast paths of a report's scene (``CoPresence.add_case``) against the plain ones."""

from __future__ import annotations

import numpy as np
import pytest

from graph.spacetime.copresence import _index_second
from graph.spacetime.index import BASE_EPOCH, to_index_time


def test_index_second_equals_to_index_time() -> None:
    rng = np.random.default_rng(5)
    times = np.r_[
        BASE_EPOCH + rng.uniform(0, 2**31 - 1, 2000),
        BASE_EPOCH + rng.integers(0, 2**31 - 1, 200),
        [BASE_EPOCH, BASE_EPOCH + 0.5, BASE_EPOCH + 2**31 - 1, BASE_EPOCH + 2**31 - 1e-3],
    ]
    for t in times.tolist():
        assert _index_second(t) == int(to_index_time(np.array([t]))[0])
        assert type(_index_second(t)) is int


@pytest.mark.parametrize(
    "t", [BASE_EPOCH - 1e-6, BASE_EPOCH - 86400.0, BASE_EPOCH + 2.0**31, float("nan"), float("inf")]
)
def test_index_second_refuses_what_the_index_cannot_hold(t: float) -> None:
    with pytest.raises(ValueError, match="outside what the index holds"):
        _index_second(t)
