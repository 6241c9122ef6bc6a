"""What the wheel, and so the image, ships: every product package, and not the test harness.

`modelops.testing` drives this repository's build scripts (`hack/`) and chart, which no wheel
holds, so it stays out of the wheel rather than ship broken.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("api", "artifacts", "contract", "operator", "serving", "trainer")


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    # built from a copy of what the Dockerfile copies, so no earlier in-tree build/ leaks in
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "modelops", source / "modelops", ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip_wheel, "-w", str(out), str(source)], check=True, capture_output=True)
    (wheel,) = out.glob("modelops-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.parametrize("package", PRODUCT_PACKAGES)
def test_the_wheel_ships_each_product_package(wheel_files: list[str], package: str) -> None:
    assert f"modelops/{package}/__init__.py" in wheel_files


def test_the_wheel_leaves_the_test_harness_out(wheel_files: list[str]) -> None:
    assert [name for name in wheel_files if name.startswith("modelops/testing/")] == []
