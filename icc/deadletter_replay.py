"""``icc deadletter replay``: re-feed dead letters once they are fixed, and mark them resolved.

Two ways a case officer fixes a rejected message:

* **re-validate** (``--id N ...`` or ``--all``): the stored raw bytes are checked
  against the contract again - useful once the contract or the validator was
  extended (a new category, a looser field) or a bug in it was fixed. Letters
  that now validate are ingested; the others stay open with their current error.
* **corrected messages** (``--fixed FILE.jsonl``): each line of FILE is the
  corrected message for one dead letter and names it with an extra
  ``"deadletter_id": N`` field (extra fields are ignored by the contract, so
  the line is otherwise an ordinary message). Start from the raw bytes shown
  by ``icc deadletter list``. Before anything is ingested, every line must be
  JSON with the id of an open dead letter, else nothing is done and the error
  names the line. A corrected message that still fails validation leaves its
  letter open and is reported with the reason.

Accepted messages go through the same :class:`~ingest.pipeline.Ingestor` as
every source (journal, then the linkage sinks), in event-time order, with the
source ``deadletter:ID`` and the original source and position as position. A
message already in the journal (same ``report_id`` / ``sighting_id``) counts
as a duplicate and its letter is resolved too: its content is in the journal.
Resolved letters stay in the store for the audit (``icc deadletter list --all``).
Run it against the state directory of a stopped worker: a running ``icc run``
would not see the new journal entries until its next restart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from icc.runtime import Runtime
from ingest.deadletter import StoredDeadLetter
from ingest.models import ContractError, parse_message
from ingest.sources import RawMessage, batched, sort_by_event_time

__all__ = ["ReplayError", "DeadLetterReplay", "load_fixed", "replay_deadletters"]

log = logging.getLogger(__name__)

#: The extra field a corrected line uses to name the dead letter it replaces.
ID_FIELD = "deadletter_id"


class ReplayError(ValueError):
    """A bad argument or fix file; nothing was replayed."""


@dataclass
class DeadLetterReplay:
    """Outcome of one replay: which letters were resolved and which still fail (id -> reason)."""

    selected: int = 0
    accepted: int = 0
    duplicates: int = 0
    resolved: list[int] = field(default_factory=list)
    still_failing: dict[int, str] = field(default_factory=dict)

    def line(self) -> str:
        text = (
            f"replayed {self.selected} dead letter(s): {len(self.resolved)} resolved "
            f"({self.accepted} accepted, {self.duplicates} already in the journal), "
            f"{len(self.still_failing)} still failing"
        )
        return text


def load_fixed(path: Path) -> list[tuple[int, int, bytes]]:
    """(line number, dead-letter id, corrected raw bytes) for every non-blank line of ``path``.

    Raises :class:`ReplayError` naming the line if one is not a JSON object with an
    integer ``deadletter_id``, or two lines name the same id.
    """
    path = Path(path)
    if not path.is_file():
        raise ReplayError(f"no such JSON Lines file: {path}")
    out: list[tuple[int, int, bytes]] = []
    seen: dict[int, int] = {}
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            raw = line.strip()
            if not raw:
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise ReplayError(
                    f"{path}:{lineno}: not a JSON object; expected a corrected message "
                    f'with "{ID_FIELD}": N'
                ) from None
            dl_id = obj.get(ID_FIELD) if isinstance(obj, dict) else None
            if not isinstance(dl_id, int) or isinstance(dl_id, bool):
                raise ReplayError(
                    f"{path}:{lineno}: {ID_FIELD} is {dl_id!r}; expected the integer id of the "
                    "dead letter this line fixes (see icc deadletter list)"
                )
            if dl_id in seen:
                raise ReplayError(
                    f"{path}:{lineno}: {ID_FIELD} {dl_id} already fixed on line {seen[dl_id]}; "
                    "expected one corrected message per dead letter"
                )
            seen[dl_id] = lineno
            out.append((lineno, dl_id, raw))
    return out


def _select(runtime: Runtime, ids: Sequence[int] | None, all_open: bool) -> list[StoredDeadLetter]:
    store = runtime.deadletters
    if all_open:
        return store.list()
    if not ids:
        raise ReplayError("nothing to replay: expected --all, --id N ... or --fixed FILE.jsonl")
    letters = store.get(list(ids))
    found = {d.id for d in letters}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ReplayError(
            f"dead letter id(s) {', '.join(map(str, unknown))}: no such dead letter; "
            "expected ids shown by icc deadletter list"
        )
    closed = [d.id for d in letters if d.resolved_at is not None]
    if closed:
        raise ReplayError(
            f"dead letter id(s) {', '.join(map(str, closed))}: already resolved; "
            "expected open dead letters"
        )
    return letters


def replay_deadletters(
    runtime: Runtime,
    *,
    ids: Sequence[int] | None = None,
    all_open: bool = False,
    fixed: Path | None = None,
) -> DeadLetterReplay:
    """Re-feed dead letters (their stored bytes, or corrected lines from ``fixed``).

    Letters whose message now validates are ingested through ``runtime.ingestor`` and
    marked resolved; the others stay open. Raises :class:`ReplayError` before changing
    anything if the selection or the fix file is wrong.
    """
    if fixed is not None:
        if ids or all_open:
            raise ReplayError("--fixed names its dead letters itself; expected no --id / --all")
        lines = load_fixed(fixed)
        letters = _select(runtime, [dl_id for _, dl_id, _ in lines], False)
        by_id = {d.id: d for d in letters}
        candidates = [(by_id[dl_id], raw) for _, dl_id, raw in lines]
    else:
        candidates = [(d, d.raw) for d in _select(runtime, ids, all_open)]
    outcome = DeadLetterReplay(selected=len(candidates))
    good: list[RawMessage] = []
    good_ids: list[int] = []
    for letter, raw in candidates:
        try:
            parse_message(raw)
        except ContractError as exc:
            outcome.still_failing[letter.id] = str(exc)
            continue
        good.append(
            RawMessage(raw, f"deadletter:{letter.id}", f"{letter.source}@{letter.position}")
        )
        good_ids.append(letter.id)
    for chunk in batched(sort_by_event_time(good), runtime.settings.batch_size):
        result = runtime.ingestor.process(chunk)
        outcome.accepted += result.accepted
        outcome.duplicates += result.duplicates
    runtime.deadletters.resolve(good_ids)
    outcome.resolved = good_ids
    for dl_id, reason in outcome.still_failing.items():
        log.warning("dead letter %d still fails: %s", dl_id, reason)
    log.info("%s", outcome.line())
    return outcome
