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
