"""The code type-checks and lints: mypy and ruff, as pyproject configures them, find nothing."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))


def test_mypy_sees_every_package_under_its_import_name() -> None:
    package_dir: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
    mypy = PYPROJECT["tool"]["mypy"]
    assert sorted(mypy["packages"]) == sorted(package_dir)
    links = REPO / mypy["mypy_path"]
    for package, folder in package_dir.items():
        link = links.joinpath(*package.split("."))
        if package == folder:  # found at the repository root, where its name says
            assert not link.is_symlink()
            continue
        assert link.is_symlink(), f"{link} is missing: mypy would not find {package}"
        assert link.resolve() == (REPO / folder).resolve()


def test_product_code_is_mypy_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found")


def test_code_is_ruff_clean() -> None:
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"ruff {' '.join(args)}:\n{done.stdout}{done.stderr}"
