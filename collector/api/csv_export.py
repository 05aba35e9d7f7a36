"""CSV answers (``format=csv``) of the records, usage and chargeback routes.

A CSV answer is the JSON answer's rows: a header row of their column names, then one line per
row, each value as the JSON has it (money already in the one format, times in ISO 8601), so a
CSV row equals its JSON row read as strings. The rows are an iterator written out in chunks
(a ``StreamingResponse``), so a long export (records page through the cursor query) never sits
whole in memory.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import StreamingResponse

Format = Literal["json", "csv"]
FormatParam = Annotated[
    Format,
    Query(description="`json` (default) or `csv`: a header row of column names, then one line per row"),
]
_CHUNK = 64 * 1024  # characters written before a chunk is sent
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so as a formula


def cell(value: Any) -> Any:
    """A JSON value as CSV text: booleans and null as JSON spells them, lists and objects as JSON.
    Text a spreadsheet would run as a formula (an agent name is whatever a span said) gets a
    leading ``'``, as OWASP advises against CSV injection; numbers, negative ones too, stay."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(_FORMULA) and not _number(value):
        return "'" + value
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(rows: Iterable[dict[str, Any]], header: Sequence[str] = ()) -> Iterator[str]:
    """CSV in chunks. The header is the first row's keys (the JSON answer's columns, whatever
    fields the route adds), ``header`` that of an answer without rows; a later row with a key the
    first lacks is an error (it would be a column silently dropped)."""
    buffer = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({key: cell(value) for key, value in row.items()})
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if writer is None and header:
        csv.writer(buffer, lineterminator="\n").writerow(header)
    yield buffer.getvalue()


def csv_response(rows: Iterable[dict[str, Any]], name: str, header: Sequence[str] = ()) -> StreamingResponse:
    """The streamed ``text/csv`` answer, offered for download as ``<name>.csv``."""
    return StreamingResponse(
        csv_text(rows, header),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def with_csv(endpoint: Callable[..., Any], as_csv: Callable[..., StreamingResponse]) -> Callable[..., Any]:
    """The JSON route ``endpoint`` with a ``format`` query parameter: ``csv`` answers ``as_csv``
    called with those of the same arguments it takes. Python callers keep calling ``endpoint``."""
    hints = typing.get_type_hints(endpoint, include_extras=True)  # FastAPI reads them resolved
    signature = inspect.signature(endpoint)
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    chosen = inspect.Parameter(
        "format", inspect.Parameter.KEYWORD_ONLY, default="json", annotation=FormatParam
    )

    csv_takes = inspect.signature(as_csv).parameters  # the CSV needs no paging headers, say
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in csv_takes.values())

    def route(**kwargs: Any) -> Any:
        if kwargs.pop("format", "json") == "csv":
            return as_csv(**{k: v for k, v in kwargs.items() if takes_all or k in csv_takes})
        return endpoint(**kwargs)

    route.__signature__ = signature.replace(parameters=[*parameters, chosen], return_annotation=Any)  # type: ignore[attr-defined]
    route.__name__, route.__doc__ = endpoint.__name__, endpoint.__doc__
    return route


def rows_as_csv(
    endpoint: Callable[..., dict[str, Any]], rows: str, name: str, header: Sequence[str] = ()
) -> Callable[..., StreamingResponse]:
    """The CSV of the rows under ``rows`` in ``endpoint``'s JSON answer (the JSON's by construction);
    ``header`` names the columns of an answer without rows."""

    def as_csv(*args: Any, **kwargs: Any) -> StreamingResponse:
        return csv_response(endpoint(*args, **kwargs)[rows], name, header)

    return as_csv


# The OpenAPI entry of a route that can answer CSV.
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or with `format=csv` a CSV file of the JSON answer's rows",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
