"""The graph model: node labels with their key property, relationship types with their ends.

Every label has exactly one key property, unique per label (a uniqueness
constraint in Neo4j, the node id in networkx). Every relationship type lists
the labels it may start and end at, and its *identity* properties: the
properties that, with the two end nodes, tell one relationship of that type
from another (``INVOLVED_IN`` is one relationship per role; the others at most
one per pair of nodes).

=================  ================  ==========================================================
label              key               properties
=================  ================  ==========================================================
``Case``           ``case_id``       category, scene, window, county, city, loss, MO tags
``Person``         ``person_id``     a resolved person (resolver cluster ``R<row>``) or a mention
                                     the resolver does not handle (``<case_id>#<k>``)
``Mention``        ``mention_id``    one resolved person mention (``m<row>``), identifiers masked
``Vehicle``        ``plate``         normalised plate (``浙B12345``)
``Phone``          ``number``        phone number seen by a probe
``Mac``            ``mac``           MAC address seen by a Wi-Fi probe
``Organisation``   ``org_id``        unified social credit code, else ``name:<name>``
``Checkpoint``     ``checkpoint_id`` sensor position
``Jurisdiction``   ``adcode``        county, city or province (int adcode), name, level, parent
``Series``         ``series_id``     a linked series
=================  ================  ==========================================================

Relationships: ``(Person|Vehicle|Organisation)-[:INVOLVED_IN {role}]->(Case)``,
``(Vehicle|Phone|Mac)-[:SEEN_NEAR]->(Case)``, ``(Mention)-[:RESOLVED_TO]->(Person)``,
``(Case|Checkpoint)-[:IN]->(Jurisdiction)``, ``(Jurisdiction)-[:PART_OF]->(Jurisdiction)``,
``(Case)-[:LINKED]->(Case)`` (stored from the smaller to the larger case id, read
either way) and ``(Case)-[:MEMBER_OF]->(Series)``.

Rows handed to a store are plain dicts. A node row holds the key property and
any other properties; a relationship row holds ``src`` and ``dst`` (the end
nodes' keys), ``src_label``/``dst_label`` when the type allows several labels
at that end, the identity properties, and any other properties. Property
values are ``None`` (removes the property), ``str``, ``int``, ``float``,
``bool`` or a list of one of those - what Neo4j can store.

Example
-------
>>> node_rows("Case", [{"case_id": "A", "category": "theft.fuel"}])
[('A', {'category': 'theft.fuel'})]
>>> node_rows("Case", [{"category": "theft.fuel"}])
Traceback (most recent call last):
...
ValueError: Case row 0: missing key property 'case_id'; expected a non-empty str
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEYS",
    "LABELS",
    "RELATIONSHIPS",
    "TYPES",
    "Key",
    "RelRow",
    "RelType",
    "check_label",
    "check_type",
    "node_rows",
    "relationship_rows",
]

Key = str | int

#: label -> (key property, key type)
KEYS: dict[str, tuple[str, type]] = {
    "Case": ("case_id", str),
    "Person": ("person_id", str),
    "Mention": ("mention_id", str),
    "Vehicle": ("plate", str),
    "Phone": ("number", str),
    "Mac": ("mac", str),
    "Organisation": ("org_id", str),
    "Checkpoint": ("checkpoint_id", str),
    "Jurisdiction": ("adcode", int),
    "Series": ("series_id", str),
}
LABELS: tuple[str, ...] = tuple(KEYS)


@dataclass(frozen=True)
class RelType:
    """A relationship type: the labels it may start and end at and its identity properties."""

    name: str
    src: tuple[str, ...]
    dst: tuple[str, ...]
    identity: tuple[str, ...] = ()


RELATIONSHIPS: dict[str, RelType] = {
    r.name: r
    for r in (
        RelType("INVOLVED_IN", ("Person", "Vehicle", "Organisation"), ("Case",), ("role",)),
        RelType("SEEN_NEAR", ("Vehicle", "Phone", "Mac"), ("Case",)),
        RelType("RESOLVED_TO", ("Mention",), ("Person",)),
        RelType("IN", ("Case", "Checkpoint"), ("Jurisdiction",)),
        RelType("PART_OF", ("Jurisdiction",), ("Jurisdiction",)),
        RelType("LINKED", ("Case",), ("Case",)),
        RelType("MEMBER_OF", ("Case",), ("Series",)),
    )
}
TYPES: tuple[str, ...] = tuple(RELATIONSHIPS)

_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class RelRow:
    """One validated relationship row."""

    src_label: str
    src: Key
    dst_label: str
    dst: Key
    identity: tuple[Any, ...]
    props: dict[str, Any]


def check_label(label: object) -> str:
    """``label`` if it is a label of the model; ``ValueError`` naming it and the labels otherwise."""
    if not isinstance(label, str) or label not in KEYS:
        raise ValueError(f"unknown node label {label!r}; expected one of {', '.join(LABELS)}")
    return label


def check_type(rel_type: object) -> RelType:
    """The :class:`RelType` called ``rel_type``; ``ValueError`` naming it otherwise."""
    if not isinstance(rel_type, str) or rel_type not in RELATIONSHIPS:
        raise ValueError(
            f"unknown relationship type {rel_type!r}; expected one of {', '.join(TYPES)}"
        )
    return RELATIONSHIPS[rel_type]


def _check_key(where: str, label: str, value: object) -> Key:
    prop, kind = KEYS[label]
    expected = "a non-empty str" if kind is str else "an int"
    if value is None:
        raise ValueError(f"{where}: missing key property {prop!r}; expected {expected}")
    ok = (kind is str and isinstance(value, str) and value != "") or (
        kind is int and isinstance(value, int) and not isinstance(value, bool)
    )
    if not ok:
        raise ValueError(f"{where}: {prop}={value!r}; expected {expected}")
    return value  # type: ignore[return-value]


def _check_value(where: str, name: str, value: object) -> None:
    if value is None or isinstance(value, _SCALARS):
        if isinstance(value, float) and value != value:  # NaN
            raise ValueError(f"{where}: property {name!r} is NaN; expected a number")
        return
    if (
        isinstance(value, list | tuple)
        and all(isinstance(v, _SCALARS) for v in value)
        and len({type(v) for v in value}) <= 1
    ):
        return
    raise TypeError(
        f"{where}: property {name!r} = {value!r:.80} ({type(value).__name__}); expected None, "
        "str, int, float, bool or a list of one of those (encode maps as JSON)"
    )


def _props(where: str, row: Mapping[str, Any], skip: Iterable[str]) -> dict[str, Any]:
    skip = set(skip)
    out = {}
    for name, value in row.items():
        if name in skip:
            continue
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: property name {name!r}; expected a non-empty str")
        _check_value(where, name, value)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _check_rows(where: str, rows: object) -> Sequence[Mapping[str, Any]]:
    if isinstance(rows, Mapping | str | bytes) or not isinstance(rows, Sequence):
        raise TypeError(f"{where}: got {type(rows).__name__}; expected a list of dict rows")
    return rows


# -- the fast path ---------------------------------------------------------------------
# Most rows are plain dicts of str keys and str/int/bool/float/None values or lists of str
# (every row the GraphSink builds): those are checked by type alone, without building
# the error context. Any other row - another list, a NaN, a str subclass, a missing or bad
# key, a non-dict mapping - goes through the full checks below (_node_row and
# _relationship_row), which accept it exactly as before or raise the same error naming it.

_PLAIN = frozenset({str, int, bool, type(None)})  # stored as they are, nothing else to check
_new = object.__new__
_MISSING = object()  # the key type of a label an end may not have: no value is of it


def _plain_props(row: dict, skip: Container[str]) -> dict[str, Any] | None:
    """The properties of ``row`` but ``skip`` if every name is a non-empty str and every
    value a str, int, bool, None, non-NaN float or list of str; ``None`` otherwise (check
    fully)."""
    out = {}
    for name, value in row.items():
        if name in skip:
            continue
        t = type(value)
        if (
            t in _PLAIN
            or (t is float and value == value)
            or (t is list and all(type(v) is str for v in value))  # a list is stored as given
        ) and (type(name) is str and name):
            out[name] = value
        else:
            return None
    return out


def _rel_row(
    src_label: str, src: Key, dst_label: str, dst: Key, identity: tuple, props: dict
) -> RelRow:
    """``RelRow(...)`` without the frozen dataclass's ``__init__`` (six
    ``object.__setattr__`` calls): the same fields set in the instance's ``__dict__``."""
    r = _new(RelRow)
    d = r.__dict__
    d["src_label"] = src_label
    d["src"] = src
    d["dst_label"] = dst_label
    d["dst"] = dst
    d["identity"] = identity
    d["props"] = props
    return r


def node_rows(label: str, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Key, dict[str, Any]]]:
    """Validate node rows of ``label``: ``[(key, other properties)]``.

    Raises ``ValueError`` for an unknown label or a row without a valid key,
    ``TypeError`` for a property value Neo4j could not store. O(rows).
    """
    check_label(label)
    rows = _check_rows(f"{label} rows", rows)
    prop, kind = KEYS[label]
    skip = (prop,)
    out = []
    for i, row in enumerate(rows):
        if type(row) is dict:
            key = row.get(prop)
            if type(key) is kind and key != "":
                props = _plain_props(row, skip)
                if props is not None:
                    out.append((key, props))
                    continue
        out.append(_node_row(label, i, row))
    return out


def _node_row(label: str, i: int, row: object) -> tuple[Key, dict[str, Any]]:
    """Row ``i`` of ``label`` with every check (what :func:`node_rows` falls back to)."""
    where = f"{label} row {i}"
    if not isinstance(row, Mapping):
        raise TypeError(f"{where}: got {type(row).__name__}; expected a dict")
    prop = KEYS[label][0]
    key = _check_key(where, label, row.get(prop))
    return key, _props(where, row, (prop,))


def _end_label(where: str, rel: RelType, end: str, row: Mapping[str, Any]) -> str:
    allowed = rel.src if end == "src" else rel.dst
    label = row.get(f"{end}_label")
    if label is None:
        if len(allowed) == 1:
            return allowed[0]
        raise ValueError(
            f"{where}: missing '{end}_label'; expected one of {', '.join(allowed)} "
            f"({rel.name} may {'start' if end == 'src' else 'end'} at several labels)"
        )
    if label not in allowed:
        raise ValueError(
            f"{where}: {end}_label={label!r}; expected one of {', '.join(allowed)} for {rel.name}"
        )
    return label


def _end_kinds(allowed: tuple[str, ...]) -> tuple[str | None, dict[str, type]]:
    """The label an end takes when a row names none (``None`` when it must name one, the
    type allowing several) and the key type of each label it may have."""
    return (allowed[0] if len(allowed) == 1 else None), {a: KEYS[a][1] for a in allowed}


def _plain_identity(row: dict, identity: tuple[str, ...]) -> tuple | None:
    """The identity values of a row when each is a non-empty str or an int, else ``None``."""
    ident = tuple([row.get(name) for name in identity])
    for v in ident:
        t = type(v)
        if not ((t is str and v != "") or t is int):
            return None
    return ident


def relationship_rows(rel_type: str, rows: Sequence[Mapping[str, Any]]) -> list[RelRow]:
    """Validate relationship rows of ``rel_type`` (see the module docstring). O(rows).

    A plain row's ends are read inline against the type's tables (its default label and
    each allowed label's key type, looked up once per call, not once per row): a row
    whose end label is missing where the type needs one, not a str of an allowed label,
    or whose key is not a non-empty value of the label's key type goes to the full checks.
    """
    rel = check_type(rel_type)
    rows = _check_rows(f"{rel_type} rows", rows)
    identity = rel.identity
    skip = frozenset(("src", "dst", "src_label", "dst_label", *identity))
    src_default, src_kinds = _end_kinds(rel.src)
    dst_default, dst_kinds = _end_kinds(rel.dst)
    out = []
    for i, row in enumerate(rows):
        if type(row) is dict:
            sl = row.get("src_label")
            if sl is None:
                sl = src_default
            dl = row.get("dst_label")
            if dl is None:
                dl = dst_default
            src, dst = row.get("src"), row.get("dst")
            if (
                type(sl) is str
                and type(dl) is str
                and type(src) is src_kinds.get(sl, _MISSING)
                and src != ""
                and type(dst) is dst_kinds.get(dl, _MISSING)
                and dst != ""
            ):
                ident = _plain_identity(row, identity) if identity else ()
                props = _plain_props(row, skip) if ident is not None else None
                if props is not None:
                    out.append(_rel_row(sl, src, dl, dst, ident, props))  # type: ignore[arg-type]
                    continue
        out.append(_relationship_row(rel, i, row))
    return out


def _relationship_row(rel: RelType, i: int, row: object) -> RelRow:
    """Row ``i`` of ``rel`` with every check (what :func:`relationship_rows` falls back to)."""
    rel_type = rel.name
    where = f"{rel_type} row {i}"
    if not isinstance(row, Mapping):
        raise TypeError(f"{where}: got {type(row).__name__}; expected a dict")
    src_label = _end_label(where, rel, "src", row)
    dst_label = _end_label(where, rel, "dst", row)
    for end, label in (("src", src_label), ("dst", dst_label)):
        if row.get(end) is None:
            raise ValueError(
                f"{where}: missing {end!r}; expected the {KEYS[label][0]} of a {label} node"
            )
    src = _check_key(f"{where} (src)", src_label, row["src"])
    dst = _check_key(f"{where} (dst)", dst_label, row["dst"])
    ident = []
    for name in rel.identity:
        value = row.get(name)
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            raise ValueError(
                f"{where}: identity property {name}={value!r}; expected a non-empty str "
                f"(it tells one {rel_type} between the same nodes from another)"
            )
        ident.append(value)
    skip = ("src", "dst", "src_label", "dst_label", *rel.identity)
    return RelRow(src_label, src, dst_label, dst, tuple(ident), _props(where, row, skip))
