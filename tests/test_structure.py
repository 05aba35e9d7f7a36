"""The code's shape, checked: small modules and functions, no import cycles, one ClickHouse seam."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Import name of each source folder (pyproject's package-dir).
PACKAGES = {"collector": "spendgate.collector", "instrumentation": "spendgate.instrumentation",
            "queries": "spendgate.queries", "spendgate": "spendgate"}  # fmt: skip
GENERATED = {"spendgate/proto/flags_pb2.py", "spendgate/proto/flags_pb2_grpc.py"}


def _sources() -> Iterator[tuple[str, Path]]:
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in GENERATED:
                continue
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def _module_imports(name: str, path: Path, tree: ast.Module) -> set[str]:
    """Modules of the product that ``tree`` imports, at module level or inside a function."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("spendgate")}


def _graph() -> dict[str, set[str]]:
    modules = {name: path for name, path in _sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imports = _module_imports(name, path, ast.parse(path.read_text("utf-8")))
        graph[name] = {m for m in imports if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    # A package's __init__ importing its own submodules is not an arrow back.
    graph = {
        name: {m for m in imports if not (m.startswith(name + ".") and name in _packages())}
        for name, imports in _graph().items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _packages() -> set[str]:
    return {name for name, path in _sources() if path.name == "__init__.py"}


def test_modules_and_functions_are_small() -> None:
    too_long = []
    for name, path in _sources():
        text = path.read_text("utf-8")
        if (lines := text.count("\n")) > 400:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_only_storage_touches_the_clickhouse_client() -> None:
    reaching = []
    for name, path in _sources():
        if name == "spendgate.collector.storage":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            imported = (isinstance(node, ast.Import) and any(a.name.startswith("clickhouse_connect") for a in node.names)) or (
                isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clickhouse_connect"))  # fmt: skip
            owner = node.value if isinstance(node, ast.Attribute) and node.attr == "client" else None
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if imported or owner_name.lstrip("_") == "storage":
                reaching.append(f"{name}:{node.lineno}")
    assert reaching == []


def test_no_hand_packed_lines_in_product_code() -> None:
    packed = [f"{name}:{i}" for name, path in _sources()
              for i, line in enumerate(path.read_text("utf-8").splitlines(), 1) if "fmt: skip" in line]  # fmt: skip
    assert packed == []
