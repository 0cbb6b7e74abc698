"""The wire contract (shared/CONTRACT.md) as typed, validated models.

Three message kinds travel on the wire: :class:`Incident`, :class:`Sighting`
and :class:`TeamStatus`. :func:`parse_message` turns raw bytes into one of them
or raises :class:`ContractError`, whose message names the field, the bad value
and what was expected.

Example
-------
>>> msg = parse_message(b'{"kind": "sighting", "sighting_id": "s1", "entity_kind": "plate",'
...                     b' "entity": "\\xe6\\xb5\\x99B12345", "checkpoint_id": "cp1",'
...                     b' "lon": 121.6, "lat": 29.9, "at": "2026-03-01T08:00:00+08:00"}')
>>> msg.entity, msg.event_time.isoformat()
('浙B12345', '2026-03-01T08:00:00+08:00')
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

__all__ = [
    "KNOWN_CATEGORIES",
    "ContractError",
    "Incident",
    "Message",
    "Organization",
    "PersonMention",
    "Sighting",
    "TeamStatus",
    "Vehicle",
    "idempotency_key",
    "parse_message",
]

KNOWN_CATEGORIES: frozenset[str] = frozenset(
    {
        "theft.fuel",
        "theft.cargo",
        "theft.cable",
        "theft.vehicle",
        "burglary.commercial",
        "burglary.residential",
        "robbery",
        "fraud.contract",
        "fraud.investment",
        "fraud.telecom",
        "fraud.invoice",
        "embezzlement",
        "bribery.commercial",
        "ip.trademark",
        "ip.trade_secret",
        "other",
    }
)

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ReportId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")]
# 18 characters; '*' marks digits a witness or a document did not give (partial IDs).
IdNumber = Annotated[str, StringConstraints(pattern=r"^[0-9*]{17}[0-9Xx*]$")]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"\d")]
Uscc = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{18}$")]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]

_CONFIG = ConfigDict(strict=True, extra="ignore", frozen=True, str_strip_whitespace=False)


class PersonMention(BaseModel):
    """A person named in a report, as written by the reporting officer."""

    model_config = _CONFIG
    role: Literal["suspect", "victim", "witness", "reporter"]
    name: NonEmpty
    id_number: IdNumber | None = None
    phone: Phone | None = None
    dob: dt.date | None = None
    gender: Literal["M", "F"] | None = None


class Vehicle(BaseModel):
    """A vehicle named in a report."""

    model_config = _CONFIG
    role: Literal["suspect", "victim", "involved"]
    plate: Annotated[str, StringConstraints(min_length=2, max_length=16)]


class Organization(BaseModel):
    """An enterprise involved in a report (victim company, shell company, ...)."""

    model_config = _CONFIG
    role: NonEmpty
    name: NonEmpty
    uscc: Uscc | None = None


class Incident(BaseModel):
    """A report of a case (topic ``icc.incidents``)."""

    model_config = _CONFIG
    kind: Literal["incident"]
    report_id: ReportId
    case_id: ReportId | None = None
    reported_at: AwareDatetime
    occurred_start: AwareDatetime
    occurred_end: AwareDatetime
    lon: Lon
    lat: Lat
    address: str | None = None
    category: Category
    mo: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list
    )
    loss_cny: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    persons: list[PersonMention] = Field(default_factory=list)
    vehicles: list[Vehicle] = Field(default_factory=list)
    organizations: list[Organization] = Field(default_factory=list)
    narrative: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _check_window(self) -> Incident:
        if self.occurred_start > self.occurred_end:
            raise ValueError(
                f"occurred_end {self.occurred_end.isoformat()} is before occurred_start "
                f"{self.occurred_start.isoformat()}; expected occurred_start <= occurred_end"
            )
        if self.occurred_end > self.reported_at:
            raise ValueError(
                f"occurred_end {self.occurred_end.isoformat()} is after reported_at "
                f"{self.reported_at.isoformat()}; expected occurred_end <= reported_at"
            )
        return self

    @property
    def case(self) -> str:
        """The case this report belongs to (``case_id``, defaulting to ``report_id``)."""
        return self.case_id or self.report_id

    @property
    def category_known(self) -> bool:
        return self.category in KNOWN_CATEGORIES

    @property
    def event_time(self) -> dt.datetime:
        return self.reported_at

    @property
    def key(self) -> str:
        return f"incident:{self.report_id}"


class Sighting(BaseModel):
    """An entity seen at a place and time (topic ``icc.sightings``)."""

    model_config = _CONFIG
    kind: Literal["sighting"]
    sighting_id: ReportId
    entity_kind: Literal["plate", "phone", "mac"]
    entity: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    checkpoint_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    lon: Lon
    lat: Lat
    at: AwareDatetime

    @property
    def event_time(self) -> dt.datetime:
        return self.at

    @property
    def key(self) -> str:
        return f"sighting:{self.sighting_id}"


class TeamStatus(BaseModel):
    """Where a team is and what it is doing (topic ``icc.teams``)."""

    model_config = _CONFIG
    kind: Literal["team_status"]
    team_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    status: Literal["available", "assigned", "en_route", "on_scene", "unavailable"]
    lon: Lon | None = None
    lat: Lat | None = None
    at: AwareDatetime

    @model_validator(mode="after")
    def _check_position(self) -> TeamStatus:
        if (self.lon is None) != (self.lat is None):
            raise ValueError(f"lon={self.lon!r} and lat={self.lat!r}; expected both or neither")
        return self

    @property
    def event_time(self) -> dt.datetime:
        return self.at

    @property
    def key(self) -> str:
        return f"team:{self.team_id}@{self.at.isoformat()}:{self.status}"


Message = Incident | Sighting | TeamStatus

_ADAPTER: TypeAdapter[Message] = TypeAdapter(
    Annotated[Incident | Sighting | TeamStatus, Field(discriminator="kind")]
)


#: the validator of sightings alone, and how a sighting starts as ``icc publish``, the
#: scenario generator and most producers write it (the fast path of :func:`parse_message`)
_SIGHTING = Sighting.__pydantic_validator__
_SIGHTING_BYTES = (b'{"kind": "sighting"', b'{"kind":"sighting"')
_SIGHTING_TEXT = tuple(b.decode() for b in _SIGHTING_BYTES)


class ContractError(ValueError):
    """A message that does not follow the wire contract.

    ``errors`` holds one ``(field, value, expected)`` triple per problem.
    """

    def __init__(self, errors: list[tuple[str, Any, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(_describe(f, v, e) for f, v, e in errors))


def _describe(field: str, value: Any, expected: str) -> str:
    if value is _MISSING:
        return f"{field}: missing; expected {expected}"
    if isinstance(value, _Raw):
        return f"{field}: {value}; expected {expected}"
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{field}: got {shown}; expected {expected}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i == 0 and part in ("incident", "sighting", "team_status"):
            continue  # the union tag pydantic puts in the location
        else:
            out += ("." if out else "") + str(part)
    return out


def _expected(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return "one of 'incident', 'sighting', 'team_status'"
    if kind == "timezone_aware":
        return "an RFC 3339 timestamp with a UTC offset (naive timestamps are rejected)"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        return {
            Category.__metadata__[0].pattern: "a dotted lowercase code such as 'theft.fuel'",
            IdNumber.__metadata__[0].pattern: "an 18-character PRC resident ID (17 digits and a "
            "check digit 0-9 or X; '*' for unknown digits)",
            Uscc.__metadata__[0].pattern: "an 18-character unified social credit code",
            Phone.__metadata__[0].pattern: "a phone number containing digits",
        }.get(pattern, f"a string matching {pattern}")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])).split("; expected ", 1)[-1]
    if kind == "json_invalid":
        return f"valid JSON ({ctx.get('error', err['msg'])})"
    msg: str = err["msg"]
    for prefix in ("Input should be ", "Value should be "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if msg.startswith("String should have "):
        return "a string with " + msg[len("String should have ") :]
    if msg == "Field required":
        return "a value (the field is required)"
    return msg[0].lower() + msg[1:]


def _to_contract_error(exc: ValidationError, raw: bytes | str) -> ContractError:
    errors: list[tuple[str, Any, str]] = []
    for err in exc.errors(include_url=False):
        field = _loc(tuple(err["loc"])) or "message"
        if err["type"] == "union_tag_not_found":
            field, value = "kind", _MISSING
            errors.append((field, value, _expected(err)))
            continue
        if err["type"] == "union_tag_invalid":
            inp = err.get("input")
            field = "kind"
            value = inp.get("kind") if isinstance(inp, dict) else (err.get("ctx") or {}).get("tag")
            errors.append((field, value, _expected(err)))
            continue
        if err["type"] == "missing":
            value: Any = _MISSING
        elif err["type"] == "json_invalid":
            value = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            field = "message"
        elif err["type"] == "value_error":
            # model-level rule: the message already names the values
            msg = str((err.get("ctx") or {}).get("error", err["msg"]))
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            head, _, tail = msg.partition("; expected ")
            named = head.replace("=", " ").split(" ", 1)[0]
            if field == "message" and named.isidentifier():
                field = named
            errors.append((field, _Raw(head), tail or msg))
            continue
        else:
            value = err.get("input")
        errors.append((field, value, _expected(err)))
    return ContractError(errors)


class _Raw(str):
    """A value description inserted verbatim (no repr)."""

    def __repr__(self) -> str:
        return str(self)


def parse_message(raw: bytes | str) -> Message:
    """Validate one JSON message against the contract.

    Raises :class:`ContractError` naming the field, the bad value and what was
    expected. Complexity: O(len(raw)).
    """
    if isinstance(raw, bytes):
        if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not content
            raw = raw[3:]
        sighting = raw.startswith(_SIGHTING_BYTES)
    else:
        if raw.startswith("\ufeff"):
            raw = raw[1:]
        sighting = raw.startswith(_SIGHTING_TEXT)
    if sighting:
        # nearly every message: the model's own validator reads it in one pass, where the
        # union first builds the object to find its kind (about a third of the time). A
        # message it accepts is one the union accepts the same way (``kind`` is
        # "sighting"); any other goes to the union, whose errors name the problem.
        try:
            return _SIGHTING.validate_json(raw)
        except ValidationError:
            pass
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise _to_contract_error(exc, raw) from None


def idempotency_key(message: Message) -> str:
    """The key under which a message is stored once (``report_id``/``sighting_id``/...)."""
    return message.key
