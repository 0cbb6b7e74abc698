"""The graph store sink writes a rescored pair's evidence from the summary the linker
scored it on (``Linker.last_summaries``): the graph is the one it writes by summarising
every pair again. It passes over the pairs the linker scored quiet
(``Linker.last_quiet``): the graph is the one it writes by reading every pair's link."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from graph.linkage import Linker
from graph.store import GraphSnapshot
from icc.config import Settings
from icc.runtime import Runtime
from ingest.models import Message
from tests.graph.test_store import feed


class _Forget:
    """Runs between the linker and the graph store sink: drops the linker's summaries."""

    def __init__(self, linker: Linker) -> None:
        self.linker = linker
        self.had = 0

    def apply(self, messages: Sequence[Message]) -> None:
        self.had = max(self.had, len(self.linker.last_summaries))
        self.linker.last_summaries = {}


class _Unquiet:
    """Runs between the linker and the graph store sink: drops the linker's quiet pairs."""

    def __init__(self, linker: Linker) -> None:
        self.linker = linker
        self.had = 0

    def apply(self, messages: Sequence[Message]) -> None:
        self.had += len(self.linker.last_quiet)
        self.linker.last_quiet = frozenset()


@pytest.fixture(scope="module")
def messages() -> list[dict]:
    from ingest.scenario import generate

    return generate(seed=21, days=1.0, scale=0.1).messages


def _graph(
    tmp: Path, messages: list[dict], *, forget: bool, unquiet: bool = False
) -> tuple[GraphSnapshot, int]:
    runtime = Runtime.open(Settings(data_dir=tmp), reset=True)
    try:
        sinks = runtime.ingestor.sinks
        forgetting = _Unquiet(runtime.linker) if unquiet else _Forget(runtime.linker)
        if forget or unquiet:
            sinks.insert(sinks.index(runtime.graph_sink), forgetting)
        feed(runtime, messages)
        return runtime.graph.snapshot(), forgetting.had
    finally:
        runtime.close()


def test_the_linkers_summaries_write_the_graph_a_fresh_read_writes(
    tmp_path: Path, messages: list[dict]
) -> None:
    reused, _ = _graph(tmp_path / "reused", messages, forget=False)
    fresh, had = _graph(tmp_path / "fresh", messages, forget=True)
    assert had > 0  # the linker did hand summaries over
    seen_near = [k for k in reused.relationships if k[0] == "SEEN_NEAR"]
    assert seen_near
    assert reused.nodes == fresh.nodes
    assert reused.relationships == fresh.relationships


def test_passing_over_quiet_pairs_writes_the_graph_reading_every_pair_writes(
    tmp_path: Path, messages: list[dict]
) -> None:
    quick, _ = _graph(tmp_path / "quick", messages, forget=False)
    full, quiet = _graph(tmp_path / "full", messages, forget=False, unquiet=True)
    assert quiet > 0  # the linker did name quiet pairs
    assert [k for k in quick.relationships if k[0] == "LINKED"]
    assert quick.nodes == full.nodes
    assert quick.relationships == full.relationships
