"""The web console without a browser: open page paths under API keys, the stored insight dismissals,
and files that ship with the package and load nothing from elsewhere."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import httpx
import pytest
from spendgate.collector.console.routes import STATIC

from .conftest import REPO, RunningCollector, wait_until
from .console_fixtures import bearer, get, keyed, seed

__all__ = ["keyed"]  # the module's collector fixture


@pytest.fixture(scope="module")
def seeded(keyed: RunningCollector) -> RunningCollector:
    seed(keyed)
    wait_until(lambda: get(keyed, "/api/v1/costs/insights")["insights"], what="an insight")
    return keyed


def test_the_page_is_open_and_the_api_is_not(seeded: RunningCollector) -> None:
    url = seeded.http_url
    root = httpx.get(url + "/")
    assert root.status_code == 307 and root.headers["location"] == "/costs"
    page = httpx.get(url + "/costs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/costs/static/app.js">' in page.text
    assert httpx.get(url + "/costs", params={"tab": "forecast"}).status_code == 200  # the seeds' links
    assert httpx.get(url + "/costs", params={"tab": "nothing"}).status_code == 422
    script = httpx.get(url + "/costs/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(url + "/costs/static/settings.json").json() == {"api_keys": True}
    assert httpx.get(url + "/costs/static/nothing.js").status_code == 404
    assert httpx.get(url + "/api/v1/costs/summary").status_code == 401  # the data still needs a key
    assert httpx.post(url + "/costs").status_code == 401  # only reading the page is open


def test_dismissals_are_stored_and_need_the_admin_role(seeded: RunningCollector) -> None:
    url = seeded.http_url + "/api/v1/costs/insights/dismissals"
    insight = get(seeded, "/api/v1/costs/insights")["insights"][0]
    assert insight["id"] == f"{insight['kind']}:{insight['agent']}:{insight['provider']}:{insight['model']}"
    body = {"insight_id": insight["id"]}
    refused = httpx.post(url, json=body, headers=bearer("read"))
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    done = httpx.post(url, json=body, headers=bearer("admin"))
    assert done.status_code == 200, done.text
    assert done.json()["dismissed"] is True and done.json()["changed_by"] == "admin"
    listed = httpx.get(url, headers=bearer("read")).json()["dismissals"]
    assert [(d["insight_id"], d["dismissed"]) for d in listed] == [(insight["id"], True)]
    again = httpx.post(url, json=body | {"dismissed": False}, headers=bearer("admin"))
    assert again.status_code == 200 and again.json()["dismissed"] is False
    assert httpx.get(url, headers=bearer("read")).json()["dismissals"] == []
    for bad in ({"insight_id": ""}, {"insight_id": "x", "why": "noise"}, {}):
        answer = httpx.post(url, json=bad, headers=bearer("admin"))
        assert answer.status_code == 422, bad


def test_console_files_ship_with_the_package_and_load_nothing_from_elsewhere() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["spendgate.collector.console"]
    files = sorted(p.relative_to(STATIC.parent).as_posix() for p in STATIC.iterdir())
    assert files and all(any(fnmatch.fnmatch(f, p) for p in patterns) for f in files), files
    names = {p.name for p in STATIC.iterdir()}
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"https?:|from \"https?:|url\(https?:", text), path.name  # no CDN
        for imported in re.findall(r'from "\./([\w.]+)"', text):
            assert imported in names, (path.name, imported)


def test_collector_endpoints_from_flags_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from spendgate.collector.cli import build_parser, with_endpoints
    from spendgate.collector.config import ConfigError, parse_config

    monkeypatch.setenv("SPENDGATE_HTTP_ENDPOINT", "0.0.0.0:9318")
    args = build_parser().parse_args(["collector", "--grpc-endpoint", "127.0.0.1:9317"])
    off = parse_config("receivers: {otlp: {protocols: {grpc: {max_recv_msg_size_mib: 4}, http: null}}}")
    config = with_endpoints(off, args.grpc_endpoint, args.http_endpoint)
    protocols = config.receivers.otlp.protocols
    assert protocols.grpc is not None and protocols.http is not None
    assert (protocols.grpc.endpoint, protocols.grpc.max_recv_msg_size_mib) == ("127.0.0.1:9317", 4)
    assert protocols.http.endpoint == "0.0.0.0:9318"  # the file had turned it off
    with pytest.raises(ConfigError, match="host:port"):
        with_endpoints(off, "nonsense", None)


def test_demo_says_what_to_install_without_the_sdks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sys

    from spendgate.collector.cli import main

    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if it were not installed
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "pip install 'spendgate[demo]'" in error and "anthropic" in error
    assert not list(tmp_path.iterdir())  # it stopped before starting anything
