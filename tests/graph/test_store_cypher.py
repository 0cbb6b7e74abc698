"""Every Cypher statement of :mod:`graph.store.cypher`, checked without a server.

The parser is ``antlr4-cypher``: the ANTLR4 Cypher grammar of the
grammars-v4 project (derived from openCypher), generated for Python. It
handles every query and update statement the store runs, but - like the
openCypher grammar itself, where ``CONSTRAINT``, ``REQUIRE`` and ``UNIQUE`` are
only reserved words - it has no rules for Neo4j's schema commands (``CREATE
CONSTRAINT ... FOR ... REQUIRE ... IS UNIQUE``, ``CREATE INDEX ... FOR ... ON``).
Neither have the other Python parsers on PyPI (``cypherast`` passes them through
verbatim, ``cypher-guard`` and ``cypher-validator`` reject them and even
``MATCH (n:Case)``). So the schema commands are checked in two parts: their
whole text must match the Neo4j 5 command form exactly (anchored regular
expressions below), and the node or relationship pattern and the property
they name are parsed by the grammar inside a ``MATCH ... RETURN ...``.

Neo4j's own Cypher 5 parser ships in the npm package
``@neo4j-cypher/language-support``; :func:`test_neo4j_language_support_accepts_every_statement`
runs it over every statement when ``CYPHER_LANGUAGE_SUPPORT`` names a
``node_modules`` directory holding it (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from antlr4_cypher import CypherLexer, CypherParser

from graph.store import cypher
from graph.store.schema import KEYS, RELATIONSHIPS

_NAME = r"[a-z][a-z0-9_]*"
_LABEL = r"[A-Z][A-Za-z]*"
_PROP = r"[a-z][a-z0-9_]*"
CONSTRAINT_FORM = re.compile(
    rf"CREATE CONSTRAINT (?P<name>{_NAME}) IF NOT EXISTS "
    rf"FOR (?P<pattern>\(n:(?P<label>{_LABEL})\)) REQUIRE (?P<prop>n\.(?P<key>{_PROP})) IS UNIQUE"
)
INDEX_FORM = re.compile(
    rf"CREATE INDEX (?P<name>{_NAME}) IF NOT EXISTS "
    rf"FOR (?P<pattern>\((?P<v>[a-z]):{_LABEL}\)|\(\)-\[(?P<w>[a-z]):[A-Z_]+\]-\(\)) "
    rf"ON \((?P<props>[a-z]\.{_PROP}(?:, [a-z]\.{_PROP})*)\)"
)
SCHEMA = (*cypher.CONSTRAINTS, *cypher.INDEXES)


class _Collect(ErrorListener):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def syntaxError(self, recognizer, offending, line, column, msg, e) -> None:  # noqa: N802, ANN001
        self.errors.append(f"{line}:{column} {msg}")


def syntax_errors(statement: str) -> list[str]:
    """What the openCypher grammar says is wrong with ``statement`` (empty: it parses)."""
    listener = _Collect()
    lexer = CypherLexer(InputStream(statement))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = CypherParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.script()
    return listener.errors


def schema_errors(statement: str) -> list[str]:
    """Problems of a schema command: not of the Neo4j 5 form, or an unparsable pattern/property."""
    m = CONSTRAINT_FORM.fullmatch(statement)
    if m is not None:
        return syntax_errors(f"MATCH {m['pattern']} RETURN {m['prop']}")
    m = INDEX_FORM.fullmatch(statement)
    if m is not None:
        return syntax_errors(f"MATCH {m['pattern']} RETURN {m['props']}")
    return [f"not a Neo4j 5 CREATE CONSTRAINT/INDEX ... IF NOT EXISTS command: {statement!r}"]


QUERIES = {name: s for name, s in cypher.STATEMENTS.items() if s not in SCHEMA}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_statement_parses(name: str) -> None:
    assert syntax_errors(QUERIES[name]) == [], QUERIES[name]


@pytest.mark.parametrize("statement", SCHEMA)
def test_every_schema_command_has_the_neo4j_5_form_and_parses(statement: str) -> None:
    assert schema_errors(statement) == []


@pytest.mark.parametrize(
    "broken",
    [
        "UNWIND $rows AS row MERGE (n:Case {case_id: row.key) SET n += row.props",
        "UNWIND $rows AS row MERGE (n:Case {case_id: row.key}) SET n + = row.props",
        "UNWIND $rows row MERGE (n:Case {case_id: row.key}) SET n += row.props",
        "MATCH (a:Case)-[r:LINKED]-(b:Case) DELET r",
        "MATCH (n:Case {case_id: $key}) RETURN n.case_id AS",
    ],
)
def test_a_broken_statement_is_rejected(broken: str) -> None:
    assert syntax_errors(broken)


@pytest.mark.parametrize(
    "broken",
    [
        "CREATE CONSTRAINT icc_case_key IF NOT EXISTS FOR (n:Case) REQUIRE n.case_id IS UNIQUEE",
        "CREATE CONSTRAINT icc_case_key FOR (n:Case) REQUIRE n.case_id IS UNIQUE",
        "CREATE CONSTRAINT ON (n:Case) ASSERT n.case_id IS UNIQUE",  # Neo4j 4 syntax
        "CREATE INDEX icc_x IF NOT EXISTS FOR (n:Case ON (n.county)",
    ],
)
def test_a_broken_schema_command_is_rejected(broken: str) -> None:
    assert schema_errors(broken)


def test_one_key_constraint_per_label_on_its_key_property() -> None:
    found = {}
    for statement in cypher.CONSTRAINTS:
        m = CONSTRAINT_FORM.fullmatch(statement)
        assert m is not None, statement
        found[m["label"]] = m["key"]
    assert found == {label: key for label, (key, _) in KEYS.items()}


def test_statement_tables_cover_the_model() -> None:
    for table in (
        cypher.NODE_MERGE,
        cypher.NODE_DELETE,
        cypher.NODE_GET,
        cypher.NODE_NEIGHBOURS,
        cypher.NODE_COUNT,
        cypher.NODE_CLEAR,
    ):
        assert set(table) == set(KEYS)
        for label, statement in table.items():
            assert re.search(rf"\(n:{label}[ )]", statement), statement
    ends = {(t, s, d) for t, r in RELATIONSHIPS.items() for s in r.src for d in r.dst}
    assert set(cypher.REL_MERGE) == set(cypher.REL_DELETE) == ends
    for (t, s, d), statement in (*cypher.REL_MERGE.items(), *cypher.REL_DELETE.items()):
        assert f"(a:{s} {{{KEYS[s][0]}: row.src}})" in statement
        assert f"[r:{t}" in statement and f"(b:{d} {{{KEYS[d][0]}: row.dst}})" in statement
        for name in RELATIONSHIPS[t].identity:
            assert f"{name}: row.{name}" in statement
    assert set(cypher.REL_COUNT) == set(RELATIONSHIPS)


def test_statements_take_data_only_as_parameters() -> None:
    """No string literal carries data into a statement (only the direction keywords do)."""
    for name, statement in cypher.STATEMENTS.items():
        literals = set(re.findall(r"'([^']*)'", statement))
        assert literals <= {"both", "out"}, (name, literals)
        assert '"' not in statement and "{}" not in statement, name


def test_neo4j_language_support_accepts_every_statement(tmp_path: Path) -> None:
    """Neo4j's own Cypher 5 parser (npm ``@neo4j-cypher/language-support``), when present."""
    modules = os.environ.get("CYPHER_LANGUAGE_SUPPORT")
    node = shutil.which("node")
    if not modules or not node:
        pytest.skip(
            "set CYPHER_LANGUAGE_SUPPORT to a node_modules directory holding "
            "@neo4j-cypher/language-support (and have node) to run Neo4j's own parser"
        )
    statements = {**cypher.STATEMENTS, "BROKEN": "CREATE CONSTRAINT x FOR (n:Case) REQUIRE n.k"}
    (tmp_path / "statements.json").write_text(json.dumps(statements), encoding="utf-8")
    script = tmp_path / "lint.cjs"
    script.write_text(
        "const ls = require('@neo4j-cypher/language-support');\n"
        "const all = require(process.argv[2]);\n"
        "const out = {};\n"
        "for (const [name, q] of Object.entries(all)) {\n"
        "  out[name] = ls.lintCypherQuery(q, {}, {}).diagnostics\n"
        "    .filter(d => d.severity === 1 && !d.message.startsWith('Parameter $'))\n"
        "    .map(d => d.message);\n"
        "}\n"
        "console.log(JSON.stringify(out));\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [node, str(script), str(tmp_path / "statements.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": modules},
        check=True,
    )
    errors = json.loads(run.stdout)
    assert errors.pop("BROKEN")
    assert {name: e for name, e in errors.items() if e} == {}


def _rows_fields(statement: str) -> set[str]:
    return set(re.findall(r"\brow\.([a-z_]+)", statement))


def test_the_neo4j_store_passes_each_statement_the_row_fields_it_reads() -> None:
    """The parameters :class:`Neo4jStore` builds carry exactly the fields the statements use."""
    from graph.store.neo4jstore import Neo4jStore

    for label, (key, kind) in KEYS.items():
        value = "k" if kind is str else 1
        statement, param, rows, _ = Neo4jStore._node_step(label, [{key: value, "x": 1}])
        assert statement == cypher.NODE_MERGE[label] and f"${param} " in statement
        assert _rows_fields(statement) == set(rows[0]) == {"key", "props"}
        statement, param, keys, _ = Neo4jStore._key_step(label, [value])
        assert statement == cypher.NODE_DELETE[label] and f"${param} " in statement
        assert keys == [value]
    for rel_type, rel in RELATIONSHIPS.items():
        for src in rel.src:
            for dst in rel.dst:
                row = {"src_label": src, "dst_label": dst, "weight": 1.0}
                row["src"] = "s" if KEYS[src][1] is str else 1
                row["dst"] = "d" if KEYS[dst][1] is str else 2
                row.update({name: "r" for name in rel.identity})
                for merge in (True, False):
                    ((statement, param, params, _),) = Neo4jStore._rel_steps(
                        rel_type, [row], merge=merge
                    )
                    table = cypher.REL_MERGE if merge else cypher.REL_DELETE
                    assert statement == table[(rel_type, src, dst)]
                    assert f"${param} " in statement
                    assert _rows_fields(statement) <= set(params[0])
                    assert params[0]["props"] == {"weight": 1.0}
