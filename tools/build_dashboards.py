"""Build the Grafana dashboards in queries/grafana/dashboards/ from dashboards.yaml and the panel SQL.

python tools/build_dashboards.py          # write the JSON files
python tools/build_dashboards.py --check  # exit 1 if a JSON file is missing or stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parent.parent / "queries" / "grafana"
TABLE, TIME_SERIES = 1, 0  # the plugin's query formats
GRID_COLUMNS = 24


def _datasource(spec: dict[str, Any]) -> dict[str, str]:
    return {"type": spec["datasource"]["type"], "uid": "${datasource}"}


def _thresholds(steps: list[list[Any]] | None) -> dict[str, Any]:
    steps = steps or [[None, "green"]]
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def _overrides(panel: dict[str, Any]) -> list[dict[str, Any]]:
    overrides = []
    for field, unit in (panel.get("units") or {}).items():
        properties: list[dict[str, Any]] = [{"id": "unit", "value": unit}]
        if field == panel.get("gauge"):
            properties.append({"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "gradient"}})
            properties.append({"id": "max", "value": 100})
        overrides.append({"matcher": {"id": "byName", "options": field}, "properties": properties})
    return overrides


def _panel(spec: dict[str, Any], panel: dict[str, Any], index: int, grid: dict[str, int]) -> dict[str, Any]:
    kind = panel["type"]
    sql = (GRAFANA / "panels" / panel["sql"]).read_text(encoding="utf-8")
    time_series = kind == "timeseries"
    defaults: dict[str, Any] = {
        "unit": panel.get("unit", "none"),
        "thresholds": _thresholds(panel.get("thresholds")),
    }
    if "max" in panel:
        defaults["max"] = panel["max"]
    elif kind in ("gauge", "bargauge") and panel.get("unit") == "percent":
        defaults["max"] = 100
    if time_series:
        bars = bool(panel.get("bars"))
        stack = panel.get("stack", bars)  # bars stack per day, unless a series can be negative
        defaults["custom"] = {
            "drawStyle": "bars" if bars else "line",
            "fillOpacity": 60 if bars else 10,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        if panel.get("label"):
            # One series per value of the label column: name each by that value.
            defaults["displayName"] = "${__field.labels." + panel["label"] + "}"
    options: dict[str, Any] = {}
    if kind in ("stat", "gauge", "bargauge"):
        # One value per row for per-budget gauges; one value per column for summary cards.
        per_row = kind in ("gauge", "bargauge")
        fields = f"/^{panel['fields']}$/" if panel.get("fields") else ""
        options["reduceOptions"] = {"values": per_row, "calcs": ["lastNotNull"], "fields": fields}
        if kind == "stat":
            options.update({"colorMode": "none", "graphMode": "none", "textMode": "value_and_name"})
        if kind == "bargauge":
            options.update({"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True})
    elif kind == "table":
        options["showHeader"] = True
    elif time_series:
        options["legend"] = {"displayMode": "list", "placement": "bottom", "showLegend": True}
        options["tooltip"] = {"mode": "multi", "sort": "desc"}
    return {
        "id": index,
        "type": kind,
        "title": panel["title"],
        "gridPos": grid,
        "datasource": _datasource(spec),
        "fieldConfig": {"defaults": defaults, "overrides": _overrides(panel)},
        "options": options,
        "targets": [
            {
                "refId": "A",
                "datasource": _datasource(spec),
                "editorType": "sql",
                "queryType": "timeseries" if time_series else "table",
                "format": TIME_SERIES if time_series else TABLE,
                "rawSql": sql,
                # Where the SQL lives in the repository (Grafana ignores unknown target keys).
                "spendgateSql": f"queries/grafana/panels/{panel['sql']}",
            }
        ],
    }


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, int]]:
    grids, x, y, row_height = [], 0, 0, 0
    for panel in panels:
        w, h = panel["w"], panel["h"]
        if x + w > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        grids.append({"x": x, "y": y, "w": w, "h": h})
        x, row_height = x + w, max(row_height, h)
    return grids


def _variables(spec: dict[str, Any], dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    source = spec["datasource"]
    variables: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": source["type"],
            "current": {"text": source["name"], "value": source["uid"]},
            "hide": 0,
        }
    ]
    if dashboard.get("filters"):
        for name in spec["filters"]:
            sql = (GRAFANA / "variables" / f"{name}.sql").read_text(encoding="utf-8")
            variables.append(
                {
                    "name": name,
                    "label": name.capitalize(),
                    "type": "query",
                    "datasource": _datasource(spec),
                    "definition": sql,
                    "query": sql,
                    "refresh": 2,  # on time range change
                    "multi": True,
                    "includeAll": True,
                    "current": {"text": ["All"], "value": ["$__all"]},
                    "sort": 1,
                    "hide": 0,
                }
            )
    if "pending_tasks" in dashboard:
        value = str(dashboard["pending_tasks"])
        variables.append(
            {
                "name": "pending_tasks",
                "label": "Pending tasks",
                "type": "textbox",
                "query": value,
                "current": {"text": value, "value": value},
                "hide": 0,
            }
        )
    return variables


def build(spec: dict[str, Any], dashboard: dict[str, Any]) -> dict[str, Any]:
    panels = dashboard["panels"]
    grids = _layout(panels)
    start, end = dashboard["time"]
    return {
        "uid": dashboard["uid"],
        "title": dashboard["title"],
        "description": dashboard["description"],
        "tags": ["spendgate"],
        # Rollups are by UTC day, so the dashboards show UTC.
        "timezone": "utc",
        "time": {"from": start, "to": end},
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "links": [{"type": "dashboards", "tags": ["spendgate"], "asDropdown": True, "title": "spendgate"}],
        "templating": {"list": _variables(spec, dashboard)},
        "panels": [_panel(spec, panel, i + 1, grids[i]) for i, panel in enumerate(panels)],
    }


def render_all() -> dict[Path, str]:
    spec = yaml.safe_load((GRAFANA / "dashboards.yaml").read_text(encoding="utf-8"))
    out = {}
    for dashboard in spec["dashboards"]:
        text = json.dumps(build(spec, dashboard), indent=2, ensure_ascii=False) + "\n"
        out[GRAFANA / "dashboards" / f"{dashboard['uid']}.json"] = text
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the JSON files are current")
    args = parser.parse_args(argv)
    rendered = render_all()
    stale = [path for path, text in rendered.items() if not path.exists() or path.read_text("utf-8") != text]
    extra = sorted(set((GRAFANA / "dashboards").glob("*.json")) - set(rendered))
    if args.check:
        for path in stale + extra:
            print(f"stale or unexpected: {path.relative_to(GRAFANA.parent.parent)}", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered[path], encoding="utf-8")
        print(f"wrote {path.relative_to(GRAFANA.parent.parent)}")
    for path in extra:
        path.unlink()
        print(f"removed {path.relative_to(GRAFANA.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
