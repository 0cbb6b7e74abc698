"""Validating a stream's micro-batches ahead, in a worker process.

Validation is a pure function of a message's bytes, and on the one thread that
applies batches to the derived state it was a fifth of the work: pydantic builds
one object per sighting, and the pipeline then reads six fields of each. On a
machine with a second core, :class:`ValidateAhead` runs it in a worker process a
batch or two ahead of the pipeline. The worker sends back, per batch, what the
pipeline needs of each sighting as columns (:class:`Validated`); reports, team
statuses and rejected messages are only tagged, and the pipeline parses those few
itself, so every verdict, dead-letter reason and object is exactly the one
:func:`~ingest.models.parse_message` gives in the pipeline's own process.

The worker is a plain ``python`` child talking over its standard input and output
(a length and a pickle each way): it imports :mod:`ingest.models` only, not the
caller's main module as :mod:`multiprocessing`'s spawn would. If it dies, or
anything about it fails, the pipeline validates in its own process from that batch
on (logged), so a stream never stops for it.

Example
-------
>>> v = validate([b'{"kind": "sighting", "sighting_id": "s1", "entity_kind": "plate",'
...               b' "entity": "B1", "checkpoint_id": "cp1", "lon": 121.6, "lat": 29.9,'
...               b' "at": "2026-03-01T08:00:00+08:00"}', b"{"])
>>> v.tags, v.keys, v.entities
(b'sr', ['sighting:s1'], ['B1'])
"""

from __future__ import annotations

import array
import contextlib
import logging
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, NamedTuple, TypeVar

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from ingest.entitykeys import entity_key
from ingest.journal import micros_rows
from ingest.models import ContractError, Sighting, parse_message

__all__ = [
    "ENV_SWITCH",
    "OTHER",
    "REJECTED",
    "SIGHTING",
    "ValidateAhead",
    "Validated",
    "ahead_enabled",
    "validate",
]

log = logging.getLogger(__name__)

#: what :func:`validate` found of each message (one byte each in :attr:`Validated.tags`)
SIGHTING, OTHER, REJECTED = b"s"[0], b"o"[0], b"r"[0]

#: what the worker says first, once it can validate (its imports take ~0.2 s)
READY = "ready"

#: the framing of a request or a reply: its length in bytes
_HEADER = struct.Struct("<Q")

_Chunk = TypeVar("_Chunk", bound=Sequence)


class Validated(NamedTuple):
    """A validated micro-batch: a tag per message, and its sightings as columns.

    The columns hold the valid sightings in the batch's order (``entity_keys`` are
    the entities' normal keys, :func:`~ingest.entitykeys.entity_key`); ``epoch`` is their
    ``at.timestamp()`` as float64 bytes. ``rows`` is the journal's insert of the
    batch's first valid message of each key (:func:`ingest.journal.micros_rows`), used
    for the usual batch whose every message is new; None without positions, or if a
    time is not whole microseconds. ``distinct`` says no key came twice among the valid
    messages (known only with positions). ``seconds`` is how long validating took.
    """

    tags: bytes
    keys: list[str]
    kinds: list[str]
    entities: list[str]
    entity_keys: list[str]
    checkpoint_ids: list[str]
    lons: list[float]
    lats: list[float]
    epoch: bytes
    rows: str | None
    distinct: bool
    seconds: float


#: set to ``0`` to validate in the pipeline's own process (one core, or debugging)
ENV_SWITCH = "ICC_VALIDATE_AHEAD"


def ahead_enabled() -> bool:
    """Whether a worker may validate ahead: a second CPU, and not switched off by
    :data:`ENV_SWITCH` (``0`` or ``1``; anything else is refused with a ``ValueError``)."""
    switch = os.environ.get(ENV_SWITCH, "").strip()
    if switch not in ("", "0", "1"):
        raise ValueError(f"{ENV_SWITCH}={switch!r}: expected 0 (off) or 1 (on, the default)")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) >= 2 and switch != "0"


def validate(raws: Sequence[bytes | str], positions: Sequence[str] | None = None) -> Validated:
    """Validate a batch's messages against the contract, with their ``positions`` in the
    source for the journal's rows; O(n)."""
    start = time.perf_counter()
    tags = bytearray()
    keys: list[str] = []
    kinds: list[str] = []
    entities: list[str] = []
    entity_keys: list[str] = []
    checkpoints: list[str] = []
    # one string object per distinct value: pickled once a batch, and shared on arrival
    same: dict[str, str] = {}
    lons: list[float] = []
    lats: list[float] = []
    epoch = array.array("d")
    first: dict[str, tuple[str, float, str, int]] = {}  # key -> kind, time, position, length
    for i, raw in enumerate(raws):
        try:
            msg = parse_message(raw)
        except ContractError:
            tags.append(REJECTED)
            continue
        if positions is not None and msg.key not in first:
            first[msg.key] = (msg.kind, msg.event_time.timestamp(), positions[i], len(raw))
        if isinstance(msg, Sighting):
            tags.append(SIGHTING)
            keys.append(msg.key)
            kind = same.setdefault(msg.entity_kind, msg.entity_kind)
            kinds.append(kind)
            entities.append(msg.entity)
            entity_keys.append(entity_key(kind, msg.entity))
            checkpoints.append(same.setdefault(msg.checkpoint_id, msg.checkpoint_id))
            lons.append(msg.lon)
            lats.append(msg.lat)
            epoch.append(msg.at.timestamp())
        else:
            tags.append(OTHER)
    return Validated(
        bytes(tags),
        keys,
        kinds,
        entities,
        entity_keys,
        checkpoints,
        lons,
        lats,
        epoch.tobytes(),
        None if positions is None else _rows(first),
        positions is not None and len(first) == len(tags) - tags.count(REJECTED),
        time.perf_counter() - start,
    )


def _rows(first: dict[str, tuple[str, float, str, int]]) -> str | None:
    """:func:`~ingest.journal.micros_rows` of the first message of each key."""
    if not first:
        return None
    kinds, times, positions, lengths = zip(*first.values(), strict=True)
    return micros_rows(list(first), kinds, times, positions, lengths)


def _frame(obj: object) -> bytes:
    """``obj`` pickled, after its length."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def _write_all(out: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` (a raw pipe may take part of it at a time)."""
    view = memoryview(data)
    while view:
        done = out.write(view)
        view = view[done if done is not None else 0 :]
    out.flush()


def _read_exact(inp: IO[bytes], n: int) -> bytes:
    """``n`` bytes, or fewer only at the end of the stream (a raw pipe may give part)."""
    parts = []
    while n > 0:
        part = inp.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _send(out: IO[bytes], obj: object) -> None:
    _write_all(out, _frame(obj))


def _receive(inp: IO[bytes]) -> object | None:
    """The next framed object, or None at the end of the stream."""
    head = _read_exact(inp, _HEADER.size)
    if not head:
        return None
    if len(head) != _HEADER.size:
        raise EOFError(f"a frame header of {len(head)} bytes; expected {_HEADER.size}")
    (size,) = _HEADER.unpack(head)
    payload = _read_exact(inp, size)
    if len(payload) != size:
        raise EOFError(f"a frame of {len(payload)} bytes; expected {size}")
    return pickle.loads(payload)


#: bytes a pipe to or from the worker holds (Linux's default is 64 KiB): a batch's
#: request (~250 KiB for a thousand sightings) and reply then go in one system call,
#: so neither side waits for the other's thread to get the GIL back between pieces
PIPE_BYTES = 1 << 20


def _widen(pipe: IO[bytes] | None) -> bool:
    """Make ``pipe`` hold :data:`PIPE_BYTES` where the system allows (Linux); whether it
    does now."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if pipe is None or setsz is None:
        return False
    try:
        return fcntl.fcntl(pipe.fileno(), setsz, PIPE_BYTES) >= PIPE_BYTES
    except OSError as exc:  # above /proc/sys/fs/pipe-max-size: the default works too
        log.debug("pipe to the validating worker stays at its default size (%s)", exc)
        return False


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The worker's loop: :data:`READY` out once, then a batch's raw messages and
    positions in, its :class:`Validated` out, until the input ends."""
    _send(out, READY)
    while True:
        raws = _receive(inp)
        if raws is None:
            return
        _send(out, validate(*raws))  # type: ignore[misc]


class ValidateAhead:
    """A worker process validating a stream's batches ahead of the pipeline.

    :meth:`chunks` passes a stream of batches through, each with its
    :class:`Validated` (or None where the pipeline must validate it itself). The
    worker starts with the stream's ``start_after``-th batch (short streams, such as
    a test's, are not worth a process) and keeps ``depth`` batches ahead. Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, depth: int = 2, start_after: int = 16) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1 batch, got {depth!r}")
        if start_after < 0:
            raise ValueError(f"start_after must be a count of batches >= 0, got {start_after!r}")
        self.depth = depth
        self.start_after = start_after
        self._proc: subprocess.Popen[bytes] | None = None
        self._outbox: queue.SimpleQueue[bytes | None] | None = None
        self._sender: threading.Thread | None = None
        self._failed = False
        self._is_ready = False
        #: batches the worker validated, and those the pipeline validated itself because
        #: the worker's reply had not come
        self.batches = 0
        self.lagged = 0
        self._owed = 0  # replies still to come for batches validated here

    def __enter__(self) -> ValidateAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks(self, chunks: Iterable[_Chunk]) -> Iterator[tuple[_Chunk, Validated | None]]:
        """Each batch of ``chunks``, in order, with what the worker found in it."""
        waiting: deque[_Chunk] = deque()  # sent to the worker, reply not read yet
        for n, chunk in enumerate(chunks):
            if (
                n < self.start_after
                or not self._start()
                or not self._ready()
                or not self._room(len(waiting))
            ):
                if self._is_ready and not self._failed:
                    self.lagged += 1  # the worker is behind: this one is validated here
                while waiting:
                    yield self._reply(waiting.popleft())
                yield chunk, None
                continue
            self._request([m.raw for m in chunk], [m.position for m in chunk])
            waiting.append(chunk)
            if len(waiting) > self.depth:
                yield self._reply(waiting.popleft())
        while waiting:
            yield self._reply(waiting.popleft())

    def _start(self) -> bool:
        """Start the worker if it is not running; False if it cannot run."""
        if self._proc is not None:
            return not self._failed
        if self._failed or not ahead_enabled():
            return False
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from ingest.ahead import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,  # raw pipes: select() then sees every byte not read yet
                env=env,
            )
        except OSError as exc:
            log.warning("validating in this process: the worker did not start (%s)", exc)
            self._failed = True
            return False
        if not all([_widen(self._proc.stdin), _widen(self._proc.stdout)]):
            # pipes too small for the batches in flight: a thread writes requests, so the
            # pipeline is never stuck writing one while the worker is stuck writing a reply
            self._outbox = queue.SimpleQueue()
            self._sender = threading.Thread(
                target=self._send_all,
                args=(self._proc.stdin, self._outbox),
                name="icc-validate-ahead",
                daemon=True,
            )
            self._sender.start()
        log.debug("validating ahead in worker process %d", self._proc.pid)
        return True

    def _ready(self) -> bool:
        """Whether the worker has said it is ready, without waiting for it (until then the
        pipeline validates its batches itself)."""
        if self._is_ready or self._failed:
            return self._is_ready
        assert self._proc is not None and self._proc.stdout is not None
        if not self._arrived():
            return False
        try:
            said = _receive(self._proc.stdout)
            if said != READY:
                raise EOFError(f"the worker said {said!r}; expected {READY!r}")
        except Exception as exc:
            log.warning("validating in this process: the worker did not start (%s)", exc)
            self._failed = True
            return False
        self._is_ready = True
        return True

    def _request(self, raws: list[bytes], positions: list[str]) -> None:
        """Send a batch to the worker: written here if the pipes hold every batch in
        flight (:data:`PIPE_BYTES`; the worker reads each at once, so a write does not
        wait long), else queued for the sender thread. A worker gone shows in
        :meth:`_reply`."""
        frame = _frame((raws, positions))
        if self._outbox is not None:
            self._outbox.put(frame)
            return
        assert self._proc is not None and self._proc.stdin is not None
        try:
            _write_all(self._proc.stdin, frame)
        except (OSError, ValueError) as exc:
            log.debug("the validating worker took no request (%s)", exc)

    @staticmethod
    def _send_all(out: IO[bytes], outbox: queue.SimpleQueue[bytes | None]) -> None:
        try:
            while (frame := outbox.get()) is not None:
                _write_all(out, frame)
        except (OSError, ValueError):  # the worker is gone; _reply notices
            pass
        finally:
            with contextlib.suppress(OSError):
                out.close()

    def _reply(self, chunk: _Chunk) -> tuple[_Chunk, Validated | None]:
        """The worker's reply for ``chunk`` if it has come; None if it has not (the pipeline
        validates the batch itself rather than wait: on a machine busy with other work the
        worker may fall behind, and its late reply is read and dropped later)."""
        if self._failed:
            return chunk, None
        assert self._proc is not None and self._proc.stdout is not None
        try:
            while self._owed and self._arrived():  # replies for batches validated here
                self._receive_reply(None)
                self._owed -= 1
            if self._owed or not self._arrived():  # not come yet: validated here
                self._owed += 1
                self.lagged += 1
                return chunk, None
            found = self._receive_reply(chunk)
        except Exception as exc:  # the worker died or spoke nonsense: validate here
            log.warning("validating in this process from now on: the worker failed (%s)", exc)
            self._failed = True
            return chunk, None
        self.batches += 1
        return chunk, found

    def _room(self, waiting: int) -> bool:
        """Whether another batch may go to the worker: at most ``depth`` + 1 unanswered, so
        the requests in flight fit in the pipe and a write never waits for a worker that
        is behind (replies owed for batches validated here are dropped first, as they
        come)."""
        if self._failed:
            return False
        try:
            while self._owed and self._arrived():
                self._receive_reply(None)
                self._owed -= 1
        except Exception as exc:
            log.warning("validating in this process from now on: the worker failed (%s)", exc)
            self._failed = True
            return False
        return waiting + self._owed <= self.depth

    def _arrived(self) -> bool:
        """Whether the next reply has started to arrive (the rest follows at once: the
        worker writes a reply in one piece)."""
        assert self._proc is not None and self._proc.stdout is not None
        try:
            readable, _, _ = select.select([self._proc.stdout], [], [], 0)
        except (OSError, ValueError):  # no select on pipes here: wait for it
            return True
        return bool(readable)

    def _receive_reply(self, chunk: _Chunk | None) -> Validated:
        """Read the next reply, checked against ``chunk`` (any batch's if None)."""
        assert self._proc is not None and self._proc.stdout is not None
        found = _receive(self._proc.stdout)
        if not isinstance(found, Validated) or (
            chunk is not None and len(found.tags) != len(chunk)
        ):
            raise EOFError(f"a reply {type(found).__name__}; expected one for the batch")
        return found

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return None if self._proc is None else self._proc.pid

    def close(self) -> None:
        """Stop the worker (it ends when its input does); idempotent."""
        proc, self._proc = self._proc, None
        self._is_ready = False
        if proc is None:
            return
        log.info(
            "validated ahead: %d batches by the worker, %d here while it lagged",
            self.batches,
            self.lagged,
        )
        self._owed = 0
        if self._outbox is not None:
            self._outbox.put(None)
        if self._sender is not None:
            self._sender.join(timeout=5)
        else:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # type: ignore[union-attr]
        self._outbox = None
        self._sender = None
        if proc.stdout is not None:
            proc.stdout.close()  # replies nobody will read: the worker's write ends it
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: how much lower the worker's scheduling priority is than the pipeline's: a little, so
#: the journal's writer gets the second core first when its commit is due. Not more: at
#: nice 10, on a machine busy with other work, the worker hardly ran (an ``icc replay``
#: of 45 batches while two benchmarks ran: 0 validated by the worker, against 10-22 at
#: nice 0-2)
WORKER_NICENESS = 2


def main() -> None:
    """Entry point of the worker process: ends quietly when the pipeline closes its pipes
    or the terminal's Ctrl-C reaches it too (the pipeline handles that itself)."""
    with contextlib.suppress(OSError, AttributeError):  # not on Windows
        os.nice(WORKER_NICENESS)
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        # what is left in the buffer cannot be written: no flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
