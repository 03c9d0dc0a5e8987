"""The deploy recipe run the way README/infra/README.md says, once per test process: `make package
STAGE=prod` and `make deploy STAGE=dev …` with a stub `aws` on PATH and no region anywhere but the
variables given. Both package their stage and lint it with cfn-lint; test_deploy.py asserts what
make did and test_infra.py reads the two templates and deployment zips they made, so each stage is
packaged and linted once for both files (the `made` fixture in tests/integration/conftest.py;
tests/conftest.py sends both files to the same xdist worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

STUB_AWS = """#!/bin/sh
printf '%s\\n' "$*" >> "{calls}"
case "$1 $2" in
  "sts get-caller-identity") echo 123456789012 ;;
  "s3api head-bucket") exit 1 ;;
esac
"""
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
#: the region both make runs package and lint for (any region does: packaging needs one)
REGION = "eu-west-3"
DEPLOY_VARIABLES = (
    "STAGE=dev",
    f"REGION={REGION}",
    "ALARM_EMAIL=oncall@example.com",
    "ALARM_URL=https://pager.example.com/sns",
)


def env_without_region(folder: Path, **extra: str) -> dict[str, str]:
    """The caller's environment with no region anywhere (no variable, no profile file) and a stub
    `aws` first on PATH, which records each call in `folder`."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = folder / "aws-calls"
    (bin_dir / "aws").write_text(STUB_AWS.format(calls=calls))
    (bin_dir / "aws").chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in REGION_VARIABLES and not k.startswith("PAYTRACK_")
    }
    env.update(
        {
            "PATH": f"{bin_dir}:{env['PATH']}",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "MAKEFLAGS": "",
            **extra,
        }
    )
    return env


def aws_calls(folder: Path) -> list[list[str]]:
    calls = folder / "aws-calls"
    return [line.split(" ") for line in calls.read_text().splitlines()] if calls.exists() else []


def _venv() -> list[str]:
    """The virtualenv running these tests, for the make under test: CI's `make test VENV=…`
    reaches it in MAKEFLAGS, which the environment above empties, and without it a fresh clone's
    `make package` would build and fill a virtualenv of its own (100 s) before packaging."""
    return [f"VENV={sys.prefix}"] if sys.prefix != sys.base_prefix else []


def make(target: str, env: dict[str, str], *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target, *_venv(), *variables],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@dataclass(frozen=True)
class Made:
    """One make run: its result, the stub's record of AWS calls, and the stage it packaged."""

    result: subprocess.CompletedProcess
    calls: list[list[str]]
    out: Path  # OUT=…; the stage's files are in out/<stage>/
    stage: str
    template: dict
    zip_names: list[str]  # the deployment zip's entries (the zip itself is removed: 25 MB)
    wheels: dict[str, list[str]]  # each vendored distribution's wheel tags

    @property
    def template_path(self) -> Path:
        return self.out / self.stage / "sam.json"


def run_recipe(root: Path) -> dict[str, Made]:
    """`make package STAGE=prod` (the region from AWS_REGION) and `make deploy STAGE=dev
    REGION=… ALARM_EMAIL=… ALARM_URL=…`, each in a folder of its own under `root`; by target."""
    package_dir, deploy_dir = root / "package", root / "deploy"
    package_dir.mkdir()
    deploy_dir.mkdir()
    env = env_without_region(package_dir, AWS_REGION=REGION)
    packaged = make("package", env, "STAGE=prod", f"OUT={package_dir / 'out'}")
    env = env_without_region(deploy_dir)
    deployed = make("deploy", env, *DEPLOY_VARIABLES, f"OUT={deploy_dir / 'out'}")
    return {
        "package": _made(packaged, package_dir, "prod"),
        "deploy": _made(deployed, deploy_dir, "dev"),
    }


def _made(result: subprocess.CompletedProcess, folder: Path, stage: str) -> Made:
    out = folder / "out"
    template_path, zip_path = out / stage / "sam.json", out / stage / "deployment.zip"
    names: list[str] = []
    wheels: dict[str, list[str]] = {}
    if zip_path.exists():
        with zipfile.ZipFile(zip_path) as bundle:
            names = bundle.namelist()
            wheels = {
                name.split("/")[0]: [
                    line.split(":", 1)[1].strip()
                    for line in bundle.read(name).decode().splitlines()
                    if line.startswith("Tag:")
                ]
                for name in names
                if name.endswith(".dist-info/WHEEL")
            }
        zip_path.unlink()
    template = json.loads(template_path.read_text()) if template_path.exists() else {}
    return Made(result, aws_calls(folder), out, stage, template, names, wheels)
