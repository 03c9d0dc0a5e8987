"""The channels secret of a deployed stage, from a channels file (API.md "Channels file"):

    python -m infra.channels validate --file channels.json
    python -m infra.channels put --stage prod --file channels.json [--region …]

The file is ordinary JSON with the PEMs as JSON strings (newlines as \\n; or write it with
`json.dump` from a script): this command reads it, validates every channel with the checks the
Lambda applies when it loads the secret (services/channel_config.py: type, required fields, PEMs
that parse, key pairs that match, https URLs, currencies) and only then stores it as the secret
`paytrack/<stage>/channels`, which the stack created. Problems name the channel and field, never
a value; nothing is stored while there is one. The region is --region, else AWS_DEFAULT_REGION /
AWS_REGION / the profile's. The functions read the new value within their cache time (5 minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chalicelib.platform.settings import MissingRegion, resolve_region
from chalicelib.services.channel_config import validate_channels_document


class ChannelsFileError(RuntimeError):
    pass


def secret_name(stage: str) -> str:
    return f"paytrack/{stage}/channels"


def read_and_validate(path: Path) -> str:
    """The file's text when it is a valid channels document; else ChannelsFileError listing why."""
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as error:
        raise ChannelsFileError(f"{path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise ChannelsFileError(f"{path}: not a JSON file{where}") from None
    problems = validate_channels_document(document)
    if problems:
        raise ChannelsFileError(
            f"{path}: {len(problems)} problem(s), nothing stored:\n  " + "\n  ".join(problems)
        )
    return json.dumps(document, ensure_ascii=False)


def put(stage: str, path: Path, region: str) -> str:
    """Validate, then store as the stage's secret (which the deployed stack owns). Returns its ARN."""
    import boto3

    value = read_and_validate(path)
    secrets = boto3.session.Session().client("secretsmanager", region_name=region)
    try:
        answer = secrets.put_secret_value(SecretId=secret_name(stage), SecretString=value)
    except secrets.exceptions.ResourceNotFoundException:
        raise ChannelsFileError(
            f"no secret {secret_name(stage)} in {region}: deploy the stack first "
            f"(make deploy STAGE={stage} REGION={region})"
        ) from None
    return answer["ARN"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.channels", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check a channels file; nothing is sent anywhere")
    check.add_argument("--file", required=True, type=Path)
    store = commands.add_parser("put", help="validate, then store as the stage's channels secret")
    store.add_argument("--file", required=True, type=Path)
    store.add_argument("--stage", required=True, choices=["dev", "prod"])
    store.add_argument("--region", help="default: AWS_DEFAULT_REGION, AWS_REGION, the profile's")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            count = len(json.loads(read_and_validate(args.file)))
            print(f"{args.file}: {count} channel(s), valid")
            return 0
        arn = put(args.stage, args.file, args.region or resolve_region())
        print(f"stored {args.file} as {arn}")
    except MissingRegion as error:
        print(f"{error} (or pass --region)", file=sys.stderr)
        return 2
    except ChannelsFileError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
