"""pyproject.toml and environment.yml must describe the same environment."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_lists_exactly_pyproject_requirements():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in py["dependencies"]}
    for extra in py["optional-dependencies"].values():
        wanted |= {_norm(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_norm(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, {"only in environment.yml": listed - wanted, "only in pyproject.toml": wanted - listed}
    assert "python=3.11" in env["dependencies"]


def test_facenet_pinned_to_the_release_that_fits_our_torch():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "facenet-pytorch==2.5.3" in py["dependencies"]
    assert py["scripts"]["dfd"] == "dfd_lib.cli:main"


def test_the_wheel_ships_the_case_notebook_template_and_reads_it_through_importlib_resources(tmp_path):
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("dfd_lib", "workbench"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-c", "from setuptools import build_meta; build_meta.build_wheel('../dist')"],
        cwd=src,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("dfd_workbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dfd_lib/case/case_template.ipynb" in names
    assert {"dfd_lib/portal/profiles/ncrp.yaml", "dfd_lib/portal/profiles/generic.yaml"} <= set(names)

    # imported from the wheel itself (a zip): the template is still found and is the parameterised notebook
    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import dfd_lib; "
        "from dfd_lib.case.notebook import template_path\n"
        "with template_path() as p:\n"
        "    nb = json.loads(p.read_text(encoding='utf-8'))\n"
        "print(dfd_lib.__file__); print(sum('parameters' in c['metadata'].get('tags', []) for c in nb['cells']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(wheel)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.split("\n")
    assert out[0].startswith(str(wheel)) and out[1] == "1"  # one papermill parameters cell
