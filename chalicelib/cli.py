"""Operator commands for a real deployment, run with the stage's AWS credentials:

    PAYTRACK_STAGE=prod python -m chalicelib.cli create-key --name "first admin" --role admin

prints the new key once (it is stored hashed and cannot be shown again)."""
from __future__ import annotations

import argparse
import sys

from .services import auth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=auth.ROLES)
    args = parser.parse_args(argv)
    key_id, key = auth.create_key(args.name, args.role, "cli")
    sys.stdout.write(f"id   {key_id}\nrole {args.role}\nkey  {key}\n(shown once: store it now)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
