"""What Grafana and its ClickHouse data source do to a panel's SQL before ClickHouse sees it.

Three steps, in the plugin's order:
1. the front end replaces ``$__conditionalAll(condition, $var)`` with ``1=1`` when the variable
   is All (or empty), else with the condition;
2. Grafana interpolates template variables (``${name:singlequote}``, ``${name:sqlstring}``,
   ``$name``);
3. the back end expands the time macros (``$__timeFilter``, ``$__fromTime``, ``$__interval_s`` …)
   from the dashboard's time range and the panel's interval.
The expansions follow the plugin's macro definitions (grafana-clickhouse-datasource 4.x).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ALL = "$__all"
Selection = str | Sequence[str]


def macro_args(text: str, open_paren: int) -> tuple[list[str], int]:
    """The comma-separated arguments of the call whose ``(`` is at ``open_paren``, and the index after ``)``."""
    depth, args, current, quote = 0, [], [], ""
    for index in range(open_paren, len(text)):
        char = text[index]
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args, index + 1
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise ValueError(f"unbalanced parentheses after {text[:open_paren]!r}")


def values(selection: Selection) -> list[str]:
    return [selection] if isinstance(selection, str) else list(selection)


def apply_conditional_all(sql: str, variables: Mapping[str, Selection]) -> str:
    macro = "$__conditionalAll("
    while (start := sql.rfind(macro)) != -1:
        args, end = macro_args(sql, start + len(macro) - 1)
        if len(args) != 2:
            raise ValueError(f"$__conditionalAll takes 2 arguments, got {args}")
        condition, variable = args
        value = ",".join(values(variables.get(variable.lstrip("$"), "")))
        sql = sql[:start] + ("1=1" if value in ("", ALL) else condition) + sql[end:]
    return sql


def _singlequote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def _sqlstring(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")


def interpolate(sql: str, variables: Mapping[str, Selection], all_values: Mapping[str, Sequence[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in variables:
            raise KeyError(f"the SQL uses ${name}, which the test does not set")
        chosen = values(variables[name])
        if chosen == [ALL]:
            chosen = list(all_values.get(name, []))
        fmt = match.group(2)
        if fmt == "singlequote":
            return ",".join(_singlequote(v) for v in chosen)
        if fmt == "sqlstring":
            return ",".join(_sqlstring(v) for v in chosen)
        if fmt is None:
            return ",".join(chosen)
        raise ValueError(f"format {fmt!r} is not emulated")

    return _VARIABLE.sub(replace, sql)


def _datetime(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _datetime64(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.astimezone(UTC):%Y-%m-%d}')"


@dataclass
class TimeRange:
    start: datetime
    end: datetime
    interval: timedelta = field(default=timedelta(hours=1))

    def expand(self, sql: str) -> str:
        seconds = max(int(self.interval.total_seconds()), 1)
        millis = max(int(self.interval.total_seconds() * 1000), 1)
        start, end = self.start, self.end

        macros = {
            "fromTime": lambda: _datetime(start),
            "toTime": lambda: _datetime(end),
            "fromTime_ms": lambda: _datetime64(start),
            "toTime_ms": lambda: _datetime64(end),
            "interval_s": lambda: str(seconds),
        }
        with_args = {
            "timeFilter": lambda c: f"{c} >= {_datetime(start)} AND {c} <= {_datetime(end)}",
            "timeFilter_ms": lambda c: f"{c} >= {_datetime64(start)} AND {c} <= {_datetime64(end)}",
            "dateFilter": lambda c: f"{c} >= {_date(start)} AND {c} <= {_date(end)}",
            "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {seconds} second)",
            "timeInterval_ms": lambda c: (
                f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {millis} millisecond)"
            ),
        }
        out, position = [], 0
        for match in re.finditer(r"\$__(\w+)", sql):
            if match.start() < position:
                continue
            name = match.group(1)
            out.append(sql[position : match.start()])
            if name in with_args:
                if match.end() >= len(sql) or sql[match.end()] != "(":
                    raise ValueError(f"$__{name} needs an argument")
                args, position = macro_args(sql, match.end())
                if len(args) != 1:
                    raise ValueError(f"$__{name}: expected 1 argument, received {len(args)}")
                out.append(with_args[name](args[0]))
            elif name in macros:
                out.append(macros[name]())
                position = match.end()
            else:
                raise ValueError(f"unknown macro $__{name}")
        out.append(sql[position:])
        return "".join(out)


def render(
    sql: str,
    time_range: TimeRange,
    variables: Mapping[str, Selection],
    all_values: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The SQL ClickHouse receives for ``sql`` with these variable selections and time range."""
    sql = apply_conditional_all(sql, variables)
    sql = interpolate(sql, variables, all_values or {})
    return time_range.expand(sql)
