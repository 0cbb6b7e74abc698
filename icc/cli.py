"""The ``icc`` console script: one entry point for every way of running the command center."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from icc.config import ConfigError, Settings
from icc.ops_cli import OPS_COMMANDS, add_ops_commands, run_ops_command
from icc.serve import add_dashboard_command

__all__ = ["main"]

log = logging.getLogger("icc")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a TCP port 1-65535") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a TCP port 1-65535")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="icc", description="Integrated investigation command center")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("replay", help="feed JSON Lines files through the pipeline (batch mode)")
    r.add_argument("files", nargs="+", type=Path, metavar="FILE")
    r.add_argument("--export-series", type=Path, metavar="OUT.json", default=None)
    r.add_argument(
        "--export-tasks",
        type=Path,
        metavar="OUT.json",
        default=None,
        help="confirm plan suggestions automatically and write the activations",
    )

    rn = sub.add_parser("run", help="live pipeline fed by a stream source (Kafka or embedded)")
    rn.add_argument(
        "--source",
        default="embedded",
        metavar="kafka://HOST:PORT|embedded",
        help="where messages come from (default: embedded, no external source)",
    )
    rn.add_argument("--group-id", default="icc", help="Kafka consumer group (default icc)")
    rn.add_argument(
        "--exit-when-idle",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly after this long with no new messages",
    )
    rn.add_argument("--export-series", type=Path, metavar="OUT.json", default=None)

    s = sub.add_parser("scenario", help="generate a realistic scenario stream with ground truth")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--days", type=_positive_float, default=1.0)
    s.add_argument("--scale", type=_positive_float, default=1.0)
    s.add_argument("--out", type=Path, required=True, metavar="DIR")

    d = sub.add_parser("demo", help="embedded pipeline fed by the scenario in real time + the map")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=_port, default=8050)
    d.add_argument(
        "--speedup",
        type=_positive_float,
        default=60.0,
        help="simulated seconds per wall-clock second (default 60)",
    )
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--scale", type=_positive_float, default=0.5)
    d.add_argument("--days", type=_positive_float, default=1.0)
    d.add_argument("--reset", action="store_true", help="start from an empty state")

    add_dashboard_command(sub)  # icc dashboard (icc/serve.py)

    e = sub.add_parser("explain", help="why two cases are or are not linked, feature by feature")
    e.add_argument("case_a")
    e.add_argument("case_b")

    g = sub.add_parser("geo", help="the served province's jurisdictions")
    gsub = g.add_subparsers(dest="geo_command", required=True)
    gsub.add_parser("summary", help="counts per tier")
    loc = gsub.add_parser("locate", help="which county, city and province hold a point")
    loc.add_argument("lon", type=float)
    loc.add_argument("lat", type=float)

    dl = sub.add_parser("deadletter", help="rejected messages")
    dlsub = dl.add_subparsers(dest="dl_command", required=True)
    dll = dlsub.add_parser("list", help="show dead letters with reason and position")
    dll.add_argument("--all", action="store_true", help="include resolved ones")
    dll.add_argument("--limit", type=int, default=50)
    dlr = dlsub.add_parser(
        "replay",
        help="re-feed fixed dead letters through the pipeline and mark them resolved",
        description="Re-validate the stored bytes of dead letters (--id / --all), or ingest "
        'corrected messages from a file whose lines name the letter they fix ("deadletter_id": N).',
    )
    dlr_what = dlr.add_mutually_exclusive_group(required=True)
    dlr_what.add_argument(
        "--id",
        type=int,
        nargs="+",
        dest="ids",
        metavar="N",
        default=None,
        help="re-validate these dead letters' stored bytes",
    )
    dlr_what.add_argument("--all", action="store_true", help="every open dead letter")
    dlr_what.add_argument(
        "--fixed", type=Path, metavar="FILE.jsonl", help='corrected messages with "deadletter_id"'
    )

    pub = sub.add_parser("publish", help="push JSON Lines files to the Kafka topics, keyed")
    pub.add_argument("files", nargs="+", type=Path, metavar="FILE")
    pub.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    pub.add_argument(
        "--topic-map",
        default="default",
        metavar="NAME",
        help="kind -> topic map; 'default' (icc.incidents, icc.sightings, icc.teams)",
    )
    pub.add_argument(
        "--partitions",
        type=int,
        default=6,
        metavar="N",
        help="partitions of topics that do not exist yet (default 6)",
    )
    add_ops_commands(sub)  # config check, status, snapshot, restore, export (icc/ops_cli.py)
    return p


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False)
    if os.environ.get("ICC_LOG_FORMAT", "").strip().lower() == "json":  # validated by Settings
        from icc.ops import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    out = Console()
    if args.command in OPS_COMMANDS:
        return run_ops_command(args, out)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        _print_error("configuration error", exc)
        return 2
    try:
        if args.command == "replay":
            return _cmd_replay(args, settings, out)
        if args.command == "run":
            return _cmd_run(args, settings, out)
        if args.command == "scenario":
            return _cmd_scenario(args, out)
        if args.command == "explain":
            return _cmd_explain(args, settings, out)
        if args.command == "geo":
            return _cmd_geo(args, settings, out)
        if args.command == "publish":
            return _cmd_publish(args, out)
        if args.command == "deadletter" and args.dl_command == "replay":
            return _cmd_deadletter_replay(args, settings, out)
        if args.command == "deadletter":
            return _cmd_deadletter(args, settings, out)
        if args.command == "demo":
            from icc.demo import run_demo

            return run_demo(settings, args, out)
        if args.command == "dashboard":
            from icc.serve import run_dashboard

            return run_dashboard(settings, args, out)
    except (FileNotFoundError, ValueError) as exc:
        _print_error("error", exc)
        return 2
    return 2  # pragma: no cover - argparse enforces the command


def _print_error(label: str, exc: BaseException) -> None:
    """One error on stderr: the message as written (no markup read into it, e.g. a value
    in brackets), not wrapped, so a long path stays whole for the reader and for grep."""
    from rich.markup import escape

    Console(stderr=True).print(f"[red]{label}:[/red] {escape(str(exc))}", soft_wrap=True)


def _cmd_replay(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from icc.replay import replay_files
    from icc.runtime import Runtime

    runtime = Runtime.open(settings)
    try:
        summary = replay_files(
            runtime, list(args.files), export_to=args.export_series, export_tasks=args.export_tasks
        )
    finally:
        runtime.close()
    out.print(summary.line(), highlight=False, soft_wrap=True)
    return 0


def _cmd_run(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from icc.run import RunOptions, run

    options = RunOptions(
        source=args.source,
        group_id=args.group_id,
        exit_when_idle_s=args.exit_when_idle,
        export_series=args.export_series,
        batch_max=settings.batch_size,
    )
    _, line = run(settings, options)
    out.print(line, highlight=False, soft_wrap=True)
    return 0


def _cmd_scenario(args: argparse.Namespace, out: Console) -> int:
    from ingest.scenario import write_scenario

    summary = write_scenario(args.out, seed=args.seed, days=args.days, scale=args.scale)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary["kinds"].items()))
    out.print(
        f"wrote {summary['messages']} messages ({kinds}) with {summary['series']} series "
        f"to {args.out} (stream.jsonl, truth.json, checkpoints.csv)",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def _cmd_explain(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from rich.table import Table

    from icc.runtime import Runtime

    # explain only reads: never clear and rewrite a shared Neo4j graph for it
    runtime = Runtime.open(dataclasses.replace(settings, graph_backend="networkx"))
    try:
        for case_id in (args.case_a, args.case_b):
            if runtime.cases.get(case_id) is None:
                raise ValueError(
                    f"unknown case {case_id!r}: no report with that case_id in {settings.data_dir}"
                )
        link, contributions = runtime.linker.explain(args.case_a, args.case_b)
        assert link is not None
        model = runtime.linker.model
        verdict = "LINKED" if link.probability >= model.threshold else "not linked"
        series = {c: s.series_id for s in runtime.series for c in s.case_ids}
        sa, sb = series.get(args.case_a), series.get(args.case_b)
        out.print(
            f"{args.case_a} – {args.case_b}: {verdict}, p = {link.probability:.3f} "
            f"(threshold {model.threshold:g})",
            highlight=False,
        )
        if sa or sb:
            out.print(
                f"series: {args.case_a} in {sa or '-'}, {args.case_b} in {sb or '-'}",
                highlight=False,
            )
        table = Table("feature", "value", "weight", "contribution to the log-odds")
        for c in contributions:
            weight = "" if c.weight is None else f"{c.weight:+.3f}"
            table.add_row(c.feature, f"{c.value:.3f}", weight, f"{c.logit:+.3f}")
        # the trees' starting point is the expected log-odds, the logistic model's its intercept
        table.add_row("(intercept)", "", "", f"{model.intercept:+.3f}")
        out.print(table)
        if link.evidence:
            out.print("evidence:", highlight=False)
            for kind, text in link.evidence:
                out.print(f"  [{kind}] {text}", highlight=False, soft_wrap=True, markup=False)
        else:
            out.print(
                "evidence: no vehicle, phone or person was found near both cases", highlight=False
            )
    finally:
        runtime.close()
    return 0


def _cmd_geo(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from geo.jurisdictions import load_province
    from geo.lookup import JurisdictionIndex

    zj = load_province(settings.province)
    if args.geo_command == "summary":
        out.print(
            f"{zj.name} ({zj.adcode}): province 1, cities {len(zj.cities)}, "
            f"counties {len(zj.counties)}",
            highlight=False,
        )
        return 0
    county = int(
        JurisdictionIndex.for_province(settings.province).counties_of([args.lon], [args.lat])[0]
    )
    if county == 0:
        out.print(f"({args.lon}, {args.lat}) is outside {zj.name} ({zj.adcode})", highlight=False)
        return 1
    city = int(zj.counties.at[county, "city"])
    city_name = zj.name_of(city) if city != zj.adcode else zj.name
    out.print(f"{county} {zj.name} {city_name} {zj.name_of(county)}", highlight=False)
    return 0


def _cmd_deadletter(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from rich.table import Table

    from ingest.deadletter import DeadLetterStore

    store = DeadLetterStore(settings.deadletter_path)
    letters = store.list(include_resolved=args.all, limit=args.limit)
    table = Table(
        "id", "source", "position", "error", "raw", title=f"{len(store)} open dead letters"
    )
    for d in letters:
        raw = d.raw.decode("utf-8", "replace")
        table.add_row(
            str(d.id), d.source, d.position, d.error, raw[:60] + ("..." if len(raw) > 60 else "")
        )
    out.print(table)
    return 0


def _cmd_publish(args: argparse.Namespace, out: Console) -> int:
    from ingest.kafka.publish import publish_files

    summary = publish_files(
        list(args.files), args.bootstrap, topic_map=args.topic_map, partitions=args.partitions
    )
    out.print(summary.line(), highlight=False, soft_wrap=True)
    return 1 if summary.failed else 0


def _cmd_deadletter_replay(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from icc.deadletter_replay import replay_deadletters
    from icc.runtime import Runtime

    runtime = Runtime.open(settings)
    try:
        outcome = replay_deadletters(runtime, ids=args.ids, all_open=args.all, fixed=args.fixed)
    finally:
        runtime.close()
    out.print(outcome.line(), highlight=False, soft_wrap=True)
    for dl_id, reason in outcome.still_failing.items():
        out.print(f"  {dl_id}: {reason}", highlight=False, soft_wrap=True, markup=False)
    return 1 if outcome.still_failing else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
