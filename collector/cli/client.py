"""The HTTP client of the commands that talk to a running collector (its API owns the database).

One place for the collector's address, the API key, the timeout and what a
refusal looks like. Every command failure is a :class:`CommandError`, which
``main`` prints as ``spendgate: <message>`` and ends with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from spendgate.collector.api.auth import CLI_AGENT

from spendgate import __version__

DEFAULT_URL = "http://127.0.0.1:4318"
TIMEOUT_S = 30.0
USER_AGENT = f"{CLI_AGENT}{__version__}"  # budget changes made with the CLI are recorded as such

# A decoded JSON answer (an object, or an array for the listing routes); whatever the API sent.
Json = Any


class CommandError(Exception):
    """A command could not do what it was asked."""


class ApiError(CommandError):
    """The collector refused a request, or could not be reached."""


def report_error(exc: CommandError) -> int:
    """Print a failed command's reason; its exit code."""
    print(f"spendgate: {exc}", file=sys.stderr)
    return 1


def api_options() -> argparse.ArgumentParser:
    """The options of every command that talks to the collector (a parent parser)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--url",
        default=os.environ.get("SPENDGATE_URL", DEFAULT_URL),
        help=f"the collector's HTTP address (default: $SPENDGATE_URL or {DEFAULT_URL})",
    )
    options.add_argument(
        "--api-key",
        default=os.environ.get("SPENDGATE_API_KEY"),
        help="when the collector has API keys: a read (or, to change budgets, admin) key; $SPENDGATE_API_KEY",
    )
    options.add_argument("--json", action="store_true", help="print JSON")
    return options


def _with_query(path: str, query: dict[str, str] | None) -> str:
    return path + (f"?{urlencode(query)}" if query else "")


@dataclass(frozen=True)
class Client:
    url: str  # the collector's HTTP address, as given
    api_key: str | None = None
    timeout: float = TIMEOUT_S

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Client:
        """The client a command parsed with :func:`api_options` asks for."""
        return cls(args.url, args.api_key)

    def get(self, path: str, query: dict[str, str] | None = None) -> Json:
        return self.request("GET", _with_query(path, query))

    def post(self, path: str, body: Json | None = None) -> Json:
        return self.request("POST", path, body)

    def put(self, path: str, body: Json) -> Json:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Json:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, body: Json | None = None) -> Json:
        """The decoded answer (empty for an answer without a body); ApiError for a refusal."""
        response = self._send(method, path, body)
        answer: Json = response.json() if response.content else {}
        return answer

    def pages(self, path: str, query: dict[str, str] | None = None) -> Iterator[list[Json]]:
        """The pages of a paged GET answer (a JSON array each), following ``Link: <...>; rel="next"``."""
        url: str | None = _with_query(path, query)
        while url is not None:
            response = self._send("GET", url)
            yield response.json()
            url = response.links.get("next", {}).get("url")

    def lines(self, path: str, query: dict[str, str] | None = None) -> Iterator[str]:
        """A GET answer's text line by line (newlines kept) as it arrives: long exports."""
        response = self._send("GET", _with_query(path, query), stream=True)
        with response:
            # Lines split on \n only: a CSV field may hold a \r of its own.
            pending = ""
            response.encoding = response.encoding or "utf-8"
            for text in response.iter_content(chunk_size=64 * 1024, decode_unicode=True):
                pending += text if isinstance(text, str) else text.decode()
                *complete, pending = pending.split("\n")
                yield from (line + "\n" for line in complete)
            if pending:
                yield pending

    def _send(
        self, method: str, path: str, body: Json | None = None, stream: bool = False
    ) -> requests.Response:
        headers = {"User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = requests.request(
                method,
                self.url.rstrip("/") + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.ConnectionError:
            raise ApiError(
                f"cannot reach the collector at {self.url}: is `spendgate collector` running?"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(f"{method} {path}: {response.status_code} {detail}")
        return response
