"""The deploy recipe of README/infra/README.md, as written: `make package` packages and lints with no
AWS call; `make deploy` runs the AWS CLI with the stage, region, capabilities and parameters (a
stub `aws` on PATH records each call; the first one already needs credentials); no tool falls
back to a region of its own; the channels file is validated before it is stored as the secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from infra import channels as channels_tool
from tests.conftest import REPO
from tests.support.packaging import (
    DEPLOY_VARIABLES,
    REGION_VARIABLES,
    aws_calls,
    env_without_region,
    make,
)


def _flag(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_make_package_packages_and_lints_without_aws(made):
    """`make package STAGE=prod` with the region in AWS_REGION (run once for this file and
    test_infra.py: the `made` fixture)."""
    run = made["package"]
    assert run.result.returncode == 0, run.result.stdout[-3000:] + run.result.stderr[-3000:]
    assert "cfn-lint --include-checks I --regions eu-west-3" in run.result.stdout
    template = json.loads(run.template_path.read_text())
    assert template["Parameters"]["Stage"]["Default"] == "prod"
    assert run.calls == []


def test_make_deploy_runs_the_aws_cli_with_stage_region_capabilities_and_parameters(made):
    """`make deploy` with every variable of the recipe (DEPLOY_VARIABLES), run once."""
    run = made["deploy"]
    assert DEPLOY_VARIABLES == (
        "STAGE=dev",
        "REGION=eu-west-3",
        "ALARM_EMAIL=oncall@example.com",
        "ALARM_URL=https://pager.example.com/sns",
    )
    assert run.result.returncode == 0, run.result.stdout[-3000:] + run.result.stderr[-3000:]
    calls = run.calls
    assert [call[:2] for call in calls] == [
        ["sts", "get-caller-identity"],
        ["s3api", "head-bucket"],
        ["s3", "mb"],
        ["cloudformation", "package"],
        ["cloudformation", "deploy"],
        ["cloudformation", "describe-stacks"],
    ]
    assert all(_flag(call, "--region") == "eu-west-3" for call in calls)
    bucket = "paytrack-artifacts-123456789012-eu-west-3"
    package, deploy = calls[3], calls[4]
    assert _flag(package, "--template-file") == str(run.out / "dev" / "sam.json")
    assert _flag(package, "--s3-bucket") == bucket
    packaged = _flag(package, "--output-template-file")
    assert _flag(deploy, "--template-file") == packaged
    assert _flag(deploy, "--stack-name") == "paytrack-dev"
    assert (
        _flag(deploy, "--s3-bucket") == bucket
    )  # the template is over deploy's 51,200-byte inline limit
    capabilities = deploy[deploy.index("--capabilities") + 1 : deploy.index("--capabilities") + 3]
    assert capabilities == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    overrides = deploy[deploy.index("--parameter-overrides") + 1 :]
    assert overrides == [
        "Stage=dev",
        "AlarmEmail=oncall@example.com",
        "AlarmHttpsEndpoint=https://pager.example.com/sns",
    ]
    template = json.loads((run.out / "dev" / "sam.json").read_text())
    assert {"Stage", "AlarmEmail", "AlarmHttpsEndpoint"} <= set(template["Parameters"])


def test_no_region_is_a_clear_error_before_anything_runs(tmp_path):
    env = env_without_region(tmp_path)
    for target in ("package", "deploy"):
        result = make(target, env, "STAGE=prod", f"OUT={tmp_path / 'out'}")
        assert result.returncode != 0
        assert "AWS_REGION" in result.stderr and "REGION=" in result.stderr, result.stderr
    assert aws_calls(tmp_path) == [] and not (tmp_path / "out").exists()


def test_region_comes_from_the_variables_then_the_profile_and_is_never_made_up(
    monkeypatch, tmp_path
):
    from chalicelib.platform.settings import MissingRegion, resolve_region

    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text("[default]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert resolve_region() == "sa-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert resolve_region() == "eu-west-3"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # what boto3 itself would use
    assert resolve_region() == "us-west-2"
    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    with pytest.raises(MissingRegion, match="AWS_REGION"):
        resolve_region()


# ------------------------------------------------------------------------------- first admin key

CLI_UNDER_MOTO = """
import sys
import boto3
from moto import mock_aws

with mock_aws():
    from local.bootstrap import provision
    provision()                                     # the stage's tables, in the settings' region
    from chalicelib import cli
    code = cli.main(sys.argv[1:])
    tables = boto3.client("dynamodb", region_name="eu-west-3").list_tables()["TableNames"]
    keys = boto3.client("dynamodb", region_name="eu-west-3").scan(TableName="paytrack-prod-keys")["Count"]
    print("RESULT", code, "paytrack-prod-keys" in tables, keys)
"""


def test_first_admin_key_goes_to_the_region_of_aws_region(tmp_path):
    env = env_without_region(
        tmp_path,
        AWS_REGION="eu-west-3",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        PAYTRACK_STAGE="prod",
    )
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI_UNDER_MOTO,
            "create-key",
            "--stage",
            "prod",
            "--name",
            "first admin",
            "--role",
            "admin",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^key  pt_", result.stdout, re.M)
    assert "RESULT 0 True 1" in result.stdout


def test_first_admin_key_without_a_region_says_so(tmp_path):
    env = env_without_region(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chalicelib.cli",
            "create-key",
            "--stage",
            "prod",
            "--name",
            "first admin",
            "--role",
            "admin",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "AWS_REGION" in result.stderr and "--region" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------- channels secret


def _deployable_channels() -> dict:
    """The committed dev channels with real-gateway (https) URLs, as a shop's file would have."""
    document = json.loads((REPO / "local" / "channels.dev.json").read_text())
    for config in document.values():
        for field in ("gateway_url", "api_base"):
            if field in config:
                config[field] = re.sub(
                    r"^http://[^/]+", "https://gateway.example.com", config[field]
                )
    return document


@pytest.fixture
def stack_secret(monkeypatch):
    """The channels secret as the stack creates it (`{}`), on moto."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="eu-west-3")
        secrets.create_secret(Name="paytrack/prod/channels", SecretString="{}")
        yield secrets


def test_channels_put_stores_a_valid_file(stack_secret, tmp_path, capsys):
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(_deployable_channels(), indent=2))
    assert channels_tool.main(["validate", "--file", str(path)]) == 0
    assert (
        channels_tool.main(["put", "--stage", "prod", "--file", str(path), "--region", "eu-west-3"])
        == 0
    )
    stored = stack_secret.get_secret_value(SecretId="paytrack/prod/channels")["SecretString"]
    assert json.loads(stored) == _deployable_channels()
    printed = capsys.readouterr()
    assert _deployable_channels()["epay-main"]["key"] not in printed.out + printed.err


def test_channels_put_refuses_an_invalid_file_and_stores_nothing(stack_secret, tmp_path, capsys):
    document = _deployable_channels()
    document["alipay-main"]["gateway_url"] = "http://gateway.example.com/gateway.do"
    document["epay-main"]["type"] = "epay2"
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(document))
    for command in (["validate"], ["put", "--stage", "prod", "--region", "eu-west-3"]):
        assert channels_tool.main([*command, "--file", str(path)]) == 1
        errors = capsys.readouterr().err
        assert "alipay-main: gateway_url" in errors and "epay-main: type" in errors
        assert document["epay-main"]["key"] not in errors
    assert stack_secret.get_secret_value(SecretId="paytrack/prod/channels")["SecretString"] == "{}"


def test_channels_put_before_the_stack_exists_says_deploy_first(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(_deployable_channels()))
    with mock_aws():
        assert (
            channels_tool.main(
                ["put", "--stage", "dev", "--file", str(path), "--region", "eu-west-3"]
            )
            == 1
        )
    assert "deploy the stack first" in capsys.readouterr().err
