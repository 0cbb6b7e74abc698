"""The ``icc`` console script: one entry point for every way of running the command center."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from icc.config import ConfigError, Settings

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
    return p


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    out = Console()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        Console(stderr=True).print(f"[red]configuration error:[/red] {exc}")
        return 2
    try:
        if args.command == "replay":
            return _cmd_replay(args, settings, out)
        if args.command == "scenario":
            return _cmd_scenario(args, out)
        if args.command == "explain":
            return _cmd_explain(args, settings, out)
        if args.command == "geo":
            return _cmd_geo(args, settings, out)
        if args.command == "deadletter":
            return _cmd_deadletter(args, settings, out)
        if args.command == "demo":
            from icc.demo import run_demo

            return run_demo(settings, args, out)
    except (FileNotFoundError, ValueError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        return 2
    return 2  # pragma: no cover - argparse enforces the command


def _cmd_replay(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from icc.replay import replay_files
    from icc.runtime import Runtime

    runtime = Runtime.open(settings)
    try:
        summary = replay_files(runtime, list(args.files), export_to=args.export_series)
    finally:
        runtime.close()
    out.print(summary.line(), highlight=False, soft_wrap=True)
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

    runtime = Runtime.open(settings)
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
            table.add_row(c.feature, f"{c.value:.3f}", f"{c.weight:+.3f}", f"{c.logit:+.3f}")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
