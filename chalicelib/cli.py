"""Operator commands for a real deployment, run with the stage's AWS credentials:

    python -m chalicelib.cli create-key --stage prod --name "first admin" --role admin [--region …]

prints the new key once (it is stored hashed and cannot be shown again). The region is --region,
else AWS_DEFAULT_REGION / AWS_REGION, else the AWS profile's; with none of them it stops and says
so (it never falls back to a region of its own)."""

from __future__ import annotations

import argparse
import os
import sys

ROLES = ("shop", "viewer", "operator", "admin")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--stage", help="the deployed stage (default: PAYTRACK_STAGE)")
    create.add_argument("--region", help="default: AWS_DEFAULT_REGION, AWS_REGION, the profile's")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.stage:
        os.environ["PAYTRACK_STAGE"] = args.stage
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    # Imported only now: the models read the stage and region from the environment at import.
    from .platform.settings import MissingRegion

    try:
        from .services import auth
    except MissingRegion as error:
        sys.stderr.write(f"{error} (or pass --region)\n")
        return 2
    key_id, key = auth.create_key(args.name, args.role, "cli")
    sys.stdout.write(f"id   {key_id}\nrole {args.role}\nkey  {key}\n(shown once: store it now)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
