"""The operations subcommands of ``icc``: ``config check``, ``status``, ``snapshot``, ``restore``,
``export``.

:func:`add_ops_commands` adds them to the ``icc`` parser and :func:`run_ops_command` runs
them; :mod:`icc.cli` calls both. Exit status: 0 on success, 2 on a configuration error or
a bad argument (with a message naming the bad value), 1 when ``restore`` refuses to
overwrite a non-empty data directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from pathlib import Path

from rich.console import Console

from icc.config import ConfigError, Settings

__all__ = ["OPS_COMMANDS", "add_ops_commands", "run_ops_command"]

log = logging.getLogger(__name__)

OPS_COMMANDS = ("config", "status", "snapshot", "restore", "export")
_FORMATS = ("graphml", "geojson", "csv", "html")


def add_ops_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``config check``, ``snapshot``, ``restore`` and ``export series`` to ``icc``."""
    c = sub.add_parser("config", help="the configuration from the environment")
    csub = c.add_subparsers(dest="config_command", required=True)
    csub.add_parser("check", help="validate and print the effective configuration (secrets masked)")

    st = sub.add_parser(
        "status",
        help="journal size, dead letters, series and activations open, consumer lag",
        description="Reads the data directory (ICC_DATA_DIR) read-only: the journal (rows by "
        "kind, bytes on disk), the dead-letter store, and the status file the workers keep "
        "(derived/status.json: series and activations open as of its time). With --source "
        "kafka://HOST:PORT also the consumer group's lag per partition.",
    )
    st.add_argument("--source", default=None, metavar="kafka://HOST:PORT")
    st.add_argument("--group-id", default="icc", help="Kafka consumer group (default icc)")
    st.add_argument("--json", action="store_true", help="one JSON object on stdout")

    sn = sub.add_parser("snapshot", help="write the embedded state (journal, dead letters, audit)")
    sn.add_argument("out", type=Path, metavar="OUT.tar.gz")

    rs = sub.add_parser("restore", help="restore the embedded state from a snapshot")
    rs.add_argument("archive", type=Path, metavar="IN.tar.gz")
    rs.add_argument("--force", action="store_true", help="replace the state of a non-empty dir")

    ex = sub.add_parser("export", help="export series for analysts' tools")
    exsub = ex.add_subparsers(dest="export_command", required=True)
    es = exsub.add_parser(
        "series",
        help="a series as GraphML, GeoJSON, CSV or a printable HTML brief",
        description="One series to the file --out, or with --all every series to the "
        "directory --out (one file per series). CSV writes the cases to --out and the "
        "evidence beside it (<stem>_evidence.csv).",
    )
    which = es.add_mutually_exclusive_group(required=True)
    which.add_argument("series_id", nargs="?", default=None, metavar="SERIES_ID")
    which.add_argument("--all", action="store_true", help="every current series")
    es.add_argument("--format", choices=_FORMATS, required=True, dest="fmt")
    es.add_argument("--out", type=Path, required=True, metavar="PATH")


def run_ops_command(args: argparse.Namespace, out: Console) -> int:
    """Run one of :data:`OPS_COMMANDS`."""
    err = Console(stderr=True)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    try:
        if args.command == "config":
            try:
                return _config_check(settings, out, err)
            except ConfigError as exc:
                err.print(f"[red]configuration error:[/red] {exc}", highlight=False, soft_wrap=True)
                return 2
        if args.command == "status":
            return _status(args, settings, out, err)
        if args.command == "snapshot":
            from icc.snapshot import snapshot

            manifest = snapshot(settings.data_dir, args.out)
            rows = ", ".join(f"{n}: {r} rows" for n, r in manifest.rows.items())
            out.print(f"snapshot of {settings.data_dir} written to {args.out} ({rows})")
            return 0
        if args.command == "restore":
            from icc.snapshot import restore

            try:
                manifest = restore(args.archive, settings.data_dir, force=args.force)
            except FileExistsError as exc:
                err.print(f"[red]refused:[/red] {exc}", highlight=False)
                return 1
            rows = ", ".join(f"{n}: {r} rows" for n, r in manifest.rows.items())
            out.print(
                f"restored {args.archive} (taken {manifest.created_at}) into "
                f"{settings.data_dir} ({rows}); derived state is rebuilt on the next start",
                highlight=False,
            )
            return 0
        if args.command == "export":
            return _export(args, settings, out)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=False)
        return 2
    raise AssertionError(f"not an ops command: {args.command!r}")  # pragma: no cover


def _status(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    import json
    import sys

    from icc.status import collect, render

    bootstrap = None
    if args.source is not None:
        scheme, sep, rest = args.source.partition("://")
        if scheme != "kafka" or not sep or not rest.strip("/"):
            raise ValueError(f"--source {args.source!r}: expected kafka://HOST:PORT")
        bootstrap = rest.strip("/")
    try:
        report = collect(settings.data_dir, bootstrap, args.group_id)
    except ConnectionError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=False)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        out.print(render(report))
    return 0


def _config_check(settings: Settings, out: Console, err: Console) -> int:
    from rich.table import Table

    from icc.ops import config_report, unknown_variables

    table = Table("variable", "value", "from", title="effective configuration")
    for row in config_report(settings):
        table.add_row(row.variable, row.value, row.origin)
    out.print(table)
    for name in unknown_variables():
        err.print(f"warning: {name} is set but nothing reads it (a typo?)", highlight=False)
    out.print("configuration ok", highlight=False)
    return 0


def _export(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from icc.exports import export_series_files
    from icc.runtime import Runtime

    if not settings.journal_path.is_file():
        raise FileNotFoundError(
            f"{settings.journal_path}: no journal; expected ICC_DATA_DIR to hold replayed state"
        )
    # exports only read: never clear and rewrite a shared Neo4j graph for them
    runtime = Runtime.open(dataclasses.replace(settings, graph_backend="networkx"))
    try:
        ids = None if args.all else [args.series_id]
        written = export_series_files(
            runtime, ids, args.fmt, args.out, actor=os.environ.get("USER") or None
        )
    finally:
        runtime.close()
    out.print(f"wrote {len(written)} file(s): " + ", ".join(str(p) for p in written[:6]))
    return 0
