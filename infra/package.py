"""Package the app for one stage as a CloudFormation (SAM) template merged with infra/resources.json.

    python -m infra.package --stage dev [--region …] out/dev   # `make package` also lints it
    python -m infra.package --prefetch               # only fill the wheel cache (needs PyPI once)

What it does, and why (STACK.md "Packaging and deploy"):

- Chalice vendors requirements.txt by running pip for the Lambda platform. To make that work
  offline and identically on every machine, the wheels are downloaded once into a cache under the
  virtualenv (`<venv>/paytrack-wheelhouse/<hash of requirements.txt>/`) — both what pip picks for
  this machine and the manylinux wheels Lambda needs — and every packaging run after that uses
  only that folder (PIP_NO_INDEX=1, PIP_FIND_LINKS=<cache>). A changed requirements.txt gets a new
  cache folder; `make clean` (which removes .venv) drops them all.
- Packaging runs on a copy of the project in a temporary folder, so chalice's deployment-zip
  cache does not pile up a 25 MB zip in .chalice/deployments for every code change.
- No AWS credentials are passed to chalice (it needs only a region: --region, else
  AWS_DEFAULT_REGION / AWS_REGION / the profile's; none is an error, never a default region).
- The output's `Stage` parameter is pinned to the stage that was packaged (its Default, and a
  Rules assertion that refuses any other value): the functions' PAYTRACK_STAGE comes from
  .chalice/config.json at packaging time, so deploying a dev package with Stage=prod must fail.
- The CloudWatch alarms are not in infra/resources.json: they are generated from the metric
  catalogue (chalicelib/platform/metric_catalogue.py, infra/alarms.py) into the output, and the
  dashboard's alarm widget lists them.
- A "Could not install dependencies" warning from chalice is an error here, not a broken zip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from chalicelib.platform.settings import MissingRegion, resolve_region
from infra.alarms import add_alarms

REPO = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = REPO / "infra" / "resources.json"
# Chalice creates a botocore client while packaging (only to learn the region), which walks the
# credential chain: strip every source of credentials and keep it from asking the instance
# metadata endpoint (a 2 s timeout offline, an error behind an HTTP proxy, real creds on EC2).
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
# What chalice needs to build the deployment package; nothing else of the repo goes in.
_PROJECT_FILES = ("app.py", "requirements.txt", "chalicelib", "vendor", ".chalice/config.json")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


class PackagingError(RuntimeError):
    pass


def lambda_target() -> tuple[str, str, list[str]]:
    """(python version, ABI, pip --platform tags) exactly as chalice will ask pip for them: the
    runtime follows the interpreter (python3.11 here), the platforms are every manylinux tag up to
    that runtime's glibc on x86_64 (chalice.deploy.packager, pinned chalice==1.34.0)."""
    from chalice.config import Config
    from chalice.deploy.packager import BaseLambdaDeploymentPackager, DependencyBuilder
    from chalice.utils import OSUtils

    runtime = Config().lambda_python_version  # "python3.11"
    abi = BaseLambdaDeploymentPackager._RUNTIME_TO_ABI[runtime]
    platforms = DependencyBuilder(OSUtils())._get_pip_platforms(abi)
    return runtime[len("python") :], abi, platforms


def venv_dir() -> Path:
    """The virtualenv running this code (the wheel cache lives in it), else the repo's .venv."""
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        return Path(sys.prefix)
    return REPO / ".venv"


def wheelhouse_dir(project: Path = REPO) -> Path:
    digest = hashlib.sha256((project / "requirements.txt").read_bytes()).hexdigest()[:16]
    _, abi, _ = lambda_target()
    return venv_dir() / "paytrack-wheelhouse" / f"{digest}-{abi}-x86_64"


def _pip(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise PackagingError(f"pip {' '.join(args[:1])} failed:\n{result.stderr[-3000:]}")


def ensure_wheelhouse(project: Path = REPO) -> Path:
    """The wheel cache for this requirements.txt, downloading it once if it is not complete."""
    target = wheelhouse_dir(project)
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    requirements = str(project / "requirements.txt")
    try:
        # 1. what chalice's first `pip download -r requirements.txt` resolves on this machine
        _pip(["download", "--quiet", "-r", requirements, "--dest", str(staging)])
        # 1b. packages published only as source (pure Python, e.g. geoip2fast) built into wheels,
        #     so step 2 and chalice find a py3-none-any wheel for them
        for sdist in [*staging.glob("*.tar.gz"), *staging.glob("*.zip")]:
            _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(staging), str(sdist)])
        # 2. the Lambda-platform wheels chalice then asks for in place of incompatible ones
        python_version, abi, platforms = lambda_target()
        platform_args = [arg for tag in platforms for arg in ("--platform", tag)]
        _pip(
            [
                "download",
                "--quiet",
                "-r",
                requirements,
                "--dest",
                str(staging),
                "--find-links",
                str(staging),
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--abi",
                abi,
                *platform_args,
            ]
        )
    except PackagingError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackagingError(
            f"could not fill the wheel cache {target} (PyPI is needed once per requirements.txt "
            f"change; afterwards packaging is offline): {error}"
        ) from None
    files = sorted(p.name for p in staging.iterdir())
    (staging / ".complete").write_text("\n".join(files) + "\n")
    if target.exists() and not (target / ".complete").exists():  # an interrupted earlier attempt
        shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another process completed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / ".complete").exists():
            raise
    return target


def stage_project(project: Path, destination: Path) -> Path:
    """Copy what chalice packages (and its config and policy files) to `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _PROJECT_FILES:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        elif source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    shutil.copytree(project / ".chalice" / "policies", destination / ".chalice" / "policies")
    return destination


def chalice_environment(wheelhouse: Path, region: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _CREDENTIAL_VARIABLES
        and not k.startswith(("PIP_", "PAYTRACK_", "AWS_ENDPOINT_URL_"))
    }
    env["AWS_DEFAULT_REGION"] = region
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    env.update(
        {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def pin_stage(template: dict, stage: str) -> dict:
    """Make the packaged template deployable only with the stage it was packaged for: `Stage`
    defaults to it and a Rules assertion refuses any other value (narrowing AllowedValues instead
    would leave the IsProd branches unreachable, which cfn-lint rightly warns about)."""
    parameter = template["Parameters"]["Stage"]
    if stage not in parameter.get("AllowedValues", [stage]):
        raise PackagingError(f"stage {stage!r} is not allowed by {MERGE_TEMPLATE.name}")
    parameter["Default"] = stage
    template.setdefault("Rules", {})["StageIsThePackagedStage"] = {
        "Assertions": [
            {
                "Assert": {"Fn::Equals": [{"Ref": "Stage"}, stage]},
                "AssertDescription": f"This template was packaged with chalice --stage {stage}: "
                f"deploy it with Stage={stage} (stack paytrack-{stage}).",
            }
        ]
    }
    return template


def throttle_admin_routes(template: dict) -> dict:
    """Give every method under /admin the admin limits (AdminRateLimit/AdminBurstLimit) in the
    stage's MethodSettings, after the stage-wide default of infra/resources.json: the operator
    API and page share the API function with /notify, and a method-level limit is the only one
    API Gateway applies per route. Derived from the routes chalice generated, so a new admin
    route is limited without anyone remembering to list it."""
    api = template["Resources"]["RestAPI"]["Properties"]
    limits = {
        "ThrottlingRateLimit": {"Ref": "AdminRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "AdminBurstLimit"},
    }
    settings = [s for s in api["MethodSettings"] if not s["ResourcePath"].startswith("/~1admin")]
    for path, methods in sorted(api["DefinitionBody"]["paths"].items()):
        if path == "/admin" or path.startswith("/admin/"):
            settings += [
                {
                    "ResourcePath": "/" + path.replace("/", "~1"),
                    "HttpMethod": method.upper(),
                    **limits,
                }
                for method in sorted(methods)
                if method in _HTTP_METHODS
            ]
    api["MethodSettings"] = settings
    return template


def finish_template(template_path: Path, stage: str) -> dict:
    """The post-processing chalice cannot do: pin the stage, throttle the admin routes, add the
    metric catalogue's alarms (infra/alarms.py)."""
    template = add_alarms(
        throttle_admin_routes(pin_stage(json.loads(template_path.read_text()), stage))
    )
    template_path.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n")
    return template


def package(
    stage: str,
    out_dir: Path,
    region: str,
    project: Path = REPO,
    work_dir: Path | None = None,
    merge_template: Path = MERGE_TEMPLATE,
) -> Path:
    """`chalice package --stage <stage> --merge-template infra/resources.json <out_dir>`, offline
    from the wheel cache. Returns the template path (out_dir/sam.json).

    Pass the same `work_dir` for several stages to build the deployment zip once.
    """
    wheelhouse = ensure_wheelhouse(project)
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    own_work_dir = work_dir is None
    work = (
        Path(tempfile.mkdtemp(prefix="paytrack-package-")) if work_dir is None else Path(work_dir)
    )
    try:
        staged = work / "project"
        if not (staged / "app.py").exists():
            stage_project(project, staged)
        command = [
            sys.executable,
            "-c",
            "import sys; from chalice.cli import main; sys.exit(main())",
            "--project-dir",
            str(staged),
            "package",
            "--stage",
            stage,
            "--pkg-format",
            "cloudformation",
            "--template-format",
            "json",
            "--merge-template",
            str(merge_template),
            str(out_dir.resolve()),
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=staged,
            env=chalice_environment(wheelhouse, region),
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise PackagingError(f"chalice package --stage {stage} failed:\n{output[-4000:]}")
        if "Could not install dependencies" in output:
            raise PackagingError(f"chalice could not vendor every requirement:\n{output[-4000:]}")
    finally:
        if own_work_dir:
            shutil.rmtree(work, ignore_errors=True)
    template_path = out_dir / "sam.json"
    finish_template(template_path, stage)
    return template_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", choices=["local", "dev", "prod"])
    parser.add_argument("--region", help="default: AWS_DEFAULT_REGION, AWS_REGION, the profile's")
    parser.add_argument("--prefetch", action="store_true", help="only fill the wheel cache")
    parser.add_argument("out_dir", nargs="?", help="default: out/<stage>")
    args = parser.parse_args(argv)
    try:
        if args.prefetch:
            print(ensure_wheelhouse())
            return 0
        if not args.stage:
            parser.error("--stage is required")
        template = package(
            args.stage,
            Path(args.out_dir or REPO / "out" / args.stage),
            args.region or resolve_region(),
        )
    except (PackagingError, MissingRegion) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{template}  (deploy as stack paytrack-{args.stage}; see infra/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
