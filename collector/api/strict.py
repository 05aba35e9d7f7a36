"""No silent ignoring: a query parameter the matched route does not declare is a 422 naming it.

:func:`reject_unknown_query` is an app-wide dependency (``app.py``), so every route, present or
future, gets the check without doing anything: it reads the route FastAPI matched and the query
parameters that route's signature declares, with those of its sub-dependencies (the ``Filters``
models of ``params.py``) and of query-parameter models. A misspelt filter (``agent_idx``) would
otherwise match everything.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel


def _query_names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query-parameter model
            yield from (field.alias or name for name, field in model.model_fields.items())
        else:
            yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def declared_query(route: APIRoute) -> list[str]:
    """The query parameters ``route`` takes, in declaration order."""
    return list(dict.fromkeys(_query_names(route.dependant)))


def unknown_query_message(unknown: list[str], declared: list[str]) -> str:
    takes = f"this route takes: {', '.join(declared)}" if declared else "this route takes none"
    names = ", ".join(repr(name) for name in unknown)
    return f"unknown query parameter{'s' if len(unknown) > 1 else ''} {names} ({takes})"


def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the matched route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = declared_query(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in declared]
    if unknown:
        raise HTTPException(422, unknown_query_message(unknown, declared))
