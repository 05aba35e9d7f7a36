"""The ``spendgate`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError
from spendgate.collector.cli import budgets, chargeback, export, overrides, pauses, price, report
from spendgate.collector.cli.client import CommandError, api_options, report_error
from spendgate.collector.config import Config, ConfigError, GrpcProtocol, HttpProtocol, load_config
from spendgate.collector.storage import StorageError

DEFAULT_CONFIG = "otel-config.yaml"


def _config_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


def _load(args: argparse.Namespace) -> tuple[Config, Path | None, Path | None]:
    """The config, its file (None: built-in defaults) and the directory relative paths start from."""
    path = _config_path(args.config)
    return load_config(path), path, path.parent.resolve() if path else None


def _log_as_configured(config: Config) -> None:
    logging.basicConfig(
        level=config.service.telemetry.logs.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def with_endpoints(config: Config, grpc: str | None, http: str | None) -> Config:
    """The config with these listening addresses (flags or environment win over the file); a receiver
    the file turned off is turned on by giving it an address."""
    protocols = config.receivers.otlp.protocols
    changes: dict[str, GrpcProtocol | HttpProtocol] = {}
    try:
        if grpc:
            old = protocols.grpc.model_dump() if protocols.grpc else {}
            changes["grpc"] = GrpcProtocol.model_validate(old | {"endpoint": grpc})
        if http:
            old = protocols.http.model_dump() if protocols.http else {}
            changes["http"] = HttpProtocol.model_validate(old | {"endpoint": http})
    except ValidationError as exc:
        raise ConfigError(f"--grpc-endpoint/--http-endpoint: {exc.errors()[0]['msg']}") from None
    # The config is frozen: copies, section by section.
    otlp = config.receivers.otlp.model_copy(update={"protocols": protocols.model_copy(update=changes)})
    return config.model_copy(update={"receivers": config.receivers.model_copy(update={"otlp": otlp})})


def _cmd_collector(args: argparse.Namespace) -> int:
    from spendgate.collector.app import Collector

    config, _, base_dir = _load(args)
    config = with_endpoints(config, args.grpc_endpoint, args.http_endpoint)
    _log_as_configured(config)
    collector = Collector(config, base_dir=base_dir)
    collector.open(repair_schema=args.repair_schema)
    asyncio.run(collector.serve())
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    _, path, _ = _load(args)
    print(f"{path or 'built-in defaults'}: ok")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from spendgate.collector.storage import migration_statements, schema_options

    config, _, _ = _load(args)
    for migration, statements in migration_statements(schema_options(config.exporters.clickhouse)):
        print(f"-- {migration.name}")
        for statement in statements:
            print(statement + ";\n")
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    import json

    from spendgate.collector.storage import open_storage

    config, _, base_dir = _load(args)
    storage = open_storage(config.exporters.clickhouse, base_dir)
    try:
        columns, rows = storage.read_only(args.query)
    except StorageError as exc:
        if "READONLY" in str(exc):
            raise StorageError(
                "spendgate sql is read-only: the engine refused a statement that writes "
                "or changes the schema (READONLY)"
            ) from None
        raise StorageError(f"query failed: {exc}") from None
    finally:
        storage.close()
    if args.header:
        print(json.dumps(columns))
    for row in rows:
        print(json.dumps(list(row), default=str))
    return 0


def _cmd_evaluator(args: argparse.Namespace) -> int:
    config, _, base_dir = _load(args)
    _log_as_configured(config)
    return budgets.cmd_evaluator(config, base_dir)


def _cmd_price(args: argparse.Namespace) -> int:
    config, _, _ = _load(args)
    return price.cmd_price(args, config.processors.pricing)


def _cmd_demo(args: argparse.Namespace) -> int:
    from spendgate.collector.cli.demo import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spendgate", description="Meter and cap what AI agents spend on LLM APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    collector = commands.add_parser(
        "collector", help="run the OTLP collector (embedded ClickHouse by default)"
    )
    collector.add_argument("--config", help=f"config file (default: ./{DEFAULT_CONFIG} if present)")
    collector.add_argument(
        "--repair-schema",
        action="store_true",
        help="re-apply every migration, re-creating tables and views that are missing, then run",
    )
    for name, default in (("grpc", "127.0.0.1:4317"), ("http", "127.0.0.1:4318")):
        env = f"SPENDGATE_{name.upper()}_ENDPOINT"
        collector.add_argument(
            f"--{name}-endpoint",
            default=os.environ.get(env),
            metavar="HOST:PORT",
            help=f"where OTLP/{name} listens (default: ${env}, else the config, else {default})",
        )
    collector.set_defaults(func=_cmd_collector)
    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("--config")
    check.set_defaults(func=_cmd_check_config)
    schema = commands.add_parser(
        "schema", help="print the DDL the collector applies (for review on a cluster)"
    )
    schema.add_argument("--config")
    schema.set_defaults(func=_cmd_schema)
    sql = commands.add_parser(
        "sql",
        help="run a read-only query on the configured storage, one JSON row per line "
        "(embedded: only while no collector owns it)",
    )
    sql.add_argument("query", help="SELECT ...; unqualified table names are the configured database's")
    sql.add_argument("--header", action="store_true", help="print the column names first")
    sql.add_argument("--config")
    sql.set_defaults(func=_cmd_sql)
    evaluator = commands.add_parser(
        "evaluator",
        help="evaluate budgets on their own, for several collectors (their config: evaluator: external)",
    )
    evaluator.add_argument("--config")
    evaluator.set_defaults(func=_cmd_evaluator)
    demo = commands.add_parser(
        "demo", help="the whole loop in under a minute: agents, a budget, blocks, the report"
    )
    demo.add_argument("--dir", help="where to keep the demo's database (default: a new temporary directory)")
    demo.add_argument(
        "--keep",
        nargs="?",
        type=float,
        const=30.0,
        metavar="MINUTES",
        help="afterwards, keep serving the demo's data to the web console (default 30 minutes; Ctrl-C ends)",
    )
    demo.set_defaults(func=_cmd_demo)
    api = api_options()
    budgets.add_commands(commands, api)
    pauses.add_commands(commands, api)
    overrides.add_command(commands, api)
    report.add_commands(commands, api)
    export.add_command(commands, api)
    chargeback.add_command(commands, api)
    price.add_command(commands, _cmd_price)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, StorageError) as exc:
        print(f"spendgate: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        return report_error(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
