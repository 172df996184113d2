"""What an installed psbridge needs is inside the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes egg-info and build/ into the tree it builds, and
    # an egg-info beside the running suite hides the installed metadata from its commands.
    source = tmp_path_factory.mktemp("source") / "psbridge"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
         str(source)],
        check=True, capture_output=True,
    )
    (built,) = out.glob("psbridge-*.whl")
    return zipfile.ZipFile(built)


def test_templates_and_spec_ship_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    shipped = {p.relative_to(ROOT / "ps_templates").as_posix()
               for p in (ROOT / "ps_templates").rglob("*.ps1.j2")}
    assert shipped
    for template in shipped:
        assert f"toolkit/ps_templates/{template}" in names
    assert "toolkit/spec/cmdlets.json" in names
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"psbridge = toolkit.cli.main:main" in entry_points


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "toolkit").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"


def test_spec_copy_matches_the_shared_spec() -> None:
    shared = ROOT.parent / "shared" / "spec" / "cmdlets.json"
    if not shared.exists():
        pytest.skip("no shared/ folder beside this checkout")
    assert (ROOT / "toolkit" / "spec" / "cmdlets.json").read_bytes() == shared.read_bytes()
