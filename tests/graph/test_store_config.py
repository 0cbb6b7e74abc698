"""Choosing the graph store from the environment: defaults, Neo4j settings, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.store import NetworkxStore, open_store
from icc.config import ConfigError, Settings
from icc.runtime import Runtime


def test_the_embedded_networkx_store_is_the_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"ICC_DATA_DIR": str(tmp_path)})
    assert (settings.graph_backend, settings.neo4j_uri, settings.neo4j_user) == (
        "networkx", None, "neo4j")  # fmt: skip
    runtime = Runtime.open(settings)
    try:
        assert isinstance(runtime.graph, NetworkxStore)
        sinks = runtime.ingestor.sinks
        assert sinks[sinks.index(runtime.linker) + 1] is runtime.graph_sink  # after the linker
    finally:
        runtime.close()


def test_neo4j_settings_are_read_and_the_password_is_not_shown() -> None:
    settings = Settings.from_env(
        {
            "ICC_GRAPH_BACKEND": "neo4j",
            "NEO4J_URI": "bolt://localhost:7687",
            "NEO4J_USER": "icc",
            "NEO4J_PASSWORD": "s3cret-pw",
        }
    )
    assert (settings.graph_backend, settings.neo4j_uri, settings.neo4j_user) == (
        "neo4j", "bolt://localhost:7687", "icc")  # fmt: skip
    assert settings.neo4j_password == "s3cret-pw"
    assert "s3cret-pw" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ICC_GRAPH_BACKEND": "neo5j"}, "ICC_GRAPH_BACKEND='neo5j': expected one of networkx, neo4j"),
        ({"ICC_GRAPH_BACKEND": "neo4j", "NEO4J_PASSWORD": "x"}, "NEO4J_URI is not set"),
        ({"ICC_GRAPH_BACKEND": "neo4j", "NEO4J_URI": "bolt://h:7687"}, "NEO4J_PASSWORD is not set"),
        ({"NEO4J_URI": "http://localhost:7474"}, "NEO4J_URI='http://localhost:7474': expected"),
        ({"NEO4J_URI": "localhost:7687"}, "SCHEME one of bolt, bolt+s"),
    ],
)  # fmt: skip
def test_a_bad_graph_setting_names_the_value_and_what_was_expected(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        Settings.from_env(env)


def test_open_store_names_an_unknown_backend_and_missing_neo4j_settings() -> None:
    with pytest.raises(ValueError, match="backend 'sqlite': expected one of networkx, neo4j"):
        open_store("sqlite")
    with pytest.raises(ValueError, match="missing password"):
        open_store("neo4j", uri="bolt://localhost:7687", user="neo4j")
