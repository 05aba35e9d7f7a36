"""``spendgate export records|usage``: the API's records or usage as CSV or JSON, to a file or stdout.

CSV is the API's own ``format=csv`` answer, written as it streams in; JSON records are read page
by page through the cursor. Progress goes to stderr, so stdout stays the export alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from spendgate.collector.cli.client import Client, CommandError

from spendgate.dimensions import USAGE_ROUTES

_PROGRESS_S = 1.0  # seconds between progress lines


class _Progress:
    """Rows written so far, told on stderr at most once a second and once at the end."""

    def __init__(self, what: str) -> None:
        self.what, self.rows, self.told = what, 0, time.monotonic()

    def add(self, count: int = 1) -> None:
        self.rows += count
        if time.monotonic() - self.told >= _PROGRESS_S:
            self.told = time.monotonic()
            print(f"spendgate: {self.rows:,} {self.what} so far ...", file=sys.stderr)

    def done(self, where: str) -> None:
        print(f"spendgate: exported {self.rows:,} {self.what} to {where}", file=sys.stderr)


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if not path or path == "-":
        yield sys.stdout
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as file:
            yield file
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None


def _route(args: argparse.Namespace) -> tuple[str, str, dict[str, str]]:
    """The API path, the name of its rows (records, days, agents ...) and the query."""
    query = {key: value for key in ("start", "end") if (value := getattr(args, key))}
    if args.what == "records":
        for dimension in ("project", "agent", "task"):
            if value := getattr(args, dimension, None):
                query[dimension] = value
        return "/api/v1/costs/records", "records", query
    if not query:
        query["period"] = args.period
    if args.by == "day":
        return "/api/v1/usage/daily", "days", query
    return f"/api/v1/usage/by-{args.by}", args.by + "s", query


def _csv(client: Client, path: str, query: dict[str, str], out: TextIO, progress: _Progress) -> None:
    header = True
    for line in client.lines(path, query | {"format": "csv"}):
        out.write(line)
        if header:
            header = False
        else:
            progress.add()


def _json(
    client: Client, path: str, rows: str, query: dict[str, str], out: TextIO, progress: _Progress
) -> None:
    """A JSON array of the rows; records page after page (the answers' ``Link`` headers)."""
    out.write("[")
    if rows == "records":
        pages = client.pages(path, query | {"limit": "1000"})
    else:
        pages = iter([client.get(path, query)[rows]])
    for page in pages:
        for row in page:
            out.write(("\n" if not progress.rows else ",\n") + json.dumps(row))
            progress.add()
    out.write("\n]\n")


def cmd_export(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    path, rows, query = _route(args)
    progress = _Progress(rows)
    with _output(args.output) as out:
        if args.format == "csv" and not args.json:
            _csv(client, path, query, out, progress)
        else:
            _json(client, path, rows, query, out, progress)
    progress.done(args.output if args.output and args.output != "-" else "stdout")
    return 0


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``export``; ``api`` is the parent with the client's options."""
    export = commands.add_parser(
        "export",
        parents=[api],
        help="records or usage as CSV (default) or JSON, streamed to a file or stdout",
    )
    export.add_argument("what", choices=["records", "usage"])
    export.add_argument("--start", help="records: ISO time or date; usage: date (YYYY-MM-DD)")
    export.add_argument("--end", help="records: ISO time or date (excluded); usage: last date (included)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("-o", "--output", help="the file to write (default: stdout)")
    export.add_argument(
        "--by", choices=["day", *USAGE_ROUTES], default="day", help="usage: per day (default) or per value"
    )
    export.add_argument(
        "--period",
        choices=["day", "week", "month", "year", "all"],
        default="month",
        help="usage without --start/--end",
    )
    for dimension in ("project", "agent", "task"):
        export.add_argument(f"--{dimension}", help=f"records: only this {dimension}'s")
    export.set_defaults(func=cmd_export)
