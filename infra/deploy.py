"""Package, lint and deploy one stage to AWS: the one recipe (infra/README.md "Deploying").

    python -m infra.deploy --stage prod --region ap-southeast-1 [--alarm-email ops@example.com]
        [--alarm-url https://…] [--artifacts-bucket B] [--out out]
    python -m infra.deploy --stage prod --region … --package-only     # stops before AWS

Steps: `infra.package` (offline, credentials not needed) → cfn-lint on the template → the AWS CLI:
`sts get-caller-identity` (the first call that needs credentials), the artifacts bucket
(`paytrack-artifacts-<account>-<region>`, created once unless --artifacts-bucket names one),
`cloudformation package`, `cloudformation deploy` of stack `paytrack-<stage>` with
CAPABILITY_IAM CAPABILITY_AUTO_EXPAND and the parameters, then the stack's outputs.
The region is --region, else AWS_DEFAULT_REGION / AWS_REGION / the profile's: never a default.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from chalicelib.platform.settings import MissingRegion, resolve_region
from infra import package as packaging

REPO = packaging.REPO


class DeployError(RuntimeError):
    pass


def _run(command: list[str], capture: bool = False) -> str:
    """Run a command, echoed; its failure stops the deploy with the command named."""
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, text=True, capture_output=capture)
    if result.returncode != 0:
        detail = (result.stderr or "").strip()[-2000:] if capture else ""
        raise DeployError(
            f"{command[0]} {command[1]} failed (exit {result.returncode}) {detail}".strip()
        )
    return (result.stdout or "").strip() if capture else ""


def lint(template: Path, region: str) -> None:
    """cfn-lint with informational checks too (the tests hold the template to the same)."""
    script = Path(sys.executable).with_name("cfn-lint")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cfnlint"]
    _run([*command, "--include-checks", "I", "--regions", region, "--", str(template)])


def parameter_overrides(stage: str, alarm_email: str | None, alarm_url: str | None) -> list[str]:
    overrides = [f"Stage={stage}"]
    if alarm_email:
        overrides.append(f"AlarmEmail={alarm_email}")
    if alarm_url:
        overrides.append(f"AlarmHttpsEndpoint={alarm_url}")
    return overrides


def artifacts_bucket(region: str, named: str | None) -> str:
    """The bucket `cloudformation package` uploads the code to: the named one, else this account's
    paytrack-artifacts-<account>-<region>, created (private, TLS-only by default) when missing."""
    account = _run(
        [
            "aws",
            "sts",
            "get-caller-identity",
            "--query",
            "Account",
            "--output",
            "text",
            "--region",
            region,
        ],
        capture=True,
    )
    if named:
        return named
    bucket = f"paytrack-artifacts-{account}-{region}"
    exists = (
        subprocess.run(
            ["aws", "s3api", "head-bucket", "--bucket", bucket, "--region", region],
            capture_output=True,
        ).returncode
        == 0
    )
    if not exists:
        _run(["aws", "s3", "mb", f"s3://{bucket}", "--region", region])
    return bucket


def deploy(args: argparse.Namespace, region: str) -> None:
    out = Path(args.out) / args.stage
    template = packaging.package(args.stage, out, region)
    lint(template, region)
    if args.package_only:
        print(f"{template}: packaged and linted for {region} (nothing sent to AWS)")
        return
    bucket = artifacts_bucket(region, args.artifacts_bucket)
    packaged = out / "packaged.json"
    stack = f"paytrack-{args.stage}"
    _run(
        [
            "aws",
            "cloudformation",
            "package",
            "--template-file",
            str(template),
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            stack,
            "--output-template-file",
            str(packaged),
            "--use-json",
            "--region",
            region,
        ]
    )
    _run(
        [
            "aws",
            "cloudformation",
            "deploy",
            "--template-file",
            str(packaged),
            "--stack-name",
            stack,
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            stack,
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-fail-on-empty-changeset",
            "--region",
            region,
            "--parameter-overrides",
            *parameter_overrides(args.stage, args.alarm_email, args.alarm_url),
        ]
    )
    _run(
        [
            "aws",
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            stack,
            "--region",
            region,
            "--query",
            "Stacks[0].Outputs",
            "--output",
            "table",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--region", help="default: AWS_DEFAULT_REGION, AWS_REGION, the profile's")
    parser.add_argument("--alarm-email", help="subscribed to the paging topic (confirm its mail)")
    parser.add_argument("--alarm-url", help="an HTTPS endpoint subscribed to the paging topic")
    parser.add_argument("--artifacts-bucket", help="default: paytrack-artifacts-<account>-<region>")
    parser.add_argument(
        "--out", default=str(REPO / "out"), help="where the templates go (default: out)"
    )
    parser.add_argument("--package-only", action="store_true", help="package and lint; no AWS call")
    args = parser.parse_args(argv)
    try:
        region = args.region or resolve_region()
        deploy(args, region)
    except MissingRegion as error:
        print(f"{error} (or REGION=… for make, --region for this command)", file=sys.stderr)
        return 2
    except (packaging.PackagingError, DeployError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
