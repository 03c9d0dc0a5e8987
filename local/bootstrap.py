"""Create every AWS resource a stage needs on the embedded AWS (moto): tables with streams and
TTL, the files bucket with the template's lifecycle rules, the SNS topics, the channels secret, the
verification secret (random, as the template generates it), the bootstrap API keys.
Also: the bootstrap keys written where the user can `source` them.

Used by `make run` (against the moto server) and by the integration tests (in-process moto).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, channels, reply_tokens
from chalicelib.store.schema import create_tables
from local.sim_channels import SIM_PATHS, point_at

DEFAULT_CHANNELS_FILE = Path(__file__).with_name("channels.dev.json")
TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "resources.json"
DEFAULT_SIM_ORIGIN = "http://127.0.0.1:9000/"
_GATEWAY_URL_FIELDS = ("gateway_url", "api_base")


def channels_for_simulator(channels_file: Path, sim_port: int | None) -> dict:
    """The channels file with its gateway URLs moved from the simulator's default port to
    `sim_port` (PAYTRACK_SIM_PORT), and the channels it marks `"simulated": true` pointed at the
    simulator, so queries and statements reach the running simulator. Real channels keep theirs."""
    loaded = load_channels(channels_file)
    origin = f"http://127.0.0.1:{sim_port or 9000}/"
    for channel_id, config in loaded.items():
        if config.get("simulated") is True and config.get("type") in SIM_PATHS:
            loaded[channel_id] = point_at(config, origin)
            continue
        for field in _GATEWAY_URL_FIELDS:
            if isinstance(config.get(field), str) and config[field].startswith(DEFAULT_SIM_ORIGIN):
                config[field] = origin + config[field][len(DEFAULT_SIM_ORIGIN) :]
    return loaded


def provision(channels_file: Path = DEFAULT_CHANNELS_FILE, sim_port: int | None = None) -> None:
    settings = get_settings()
    create_tables()
    s3 = client("s3")
    s3.create_bucket(
        Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": settings.region}
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=settings.bucket, LifecycleConfiguration={"Rules": bucket_lifecycle_rules()}
    )
    for arn in (settings.events_topic_arn, settings.paging_topic_arn):
        client("sns").create_topic(Name=arn.rsplit(":", 1)[1])
    secret = json.dumps(channels_for_simulator(channels_file, sim_port), ensure_ascii=False)
    client("secretsmanager").create_secret(Name=settings.channels_secret_id, SecretString=secret)
    client("secretsmanager").create_secret(
        Name=settings.verification_secret_id, SecretString=secrets.token_urlsafe(48)
    )
    channels.forget()
    reply_tokens.forget()


def bucket_lifecycle_rules(template: Path = TEMPLATE) -> list[dict]:
    """The deployed bucket's lifecycle rules (infra/resources.json), in the S3 API's shape, so
    the embedded bucket carries the same ones."""
    bucket = json.loads(template.read_text(encoding="utf-8"))["Resources"]["FilesBucket"]
    rules = []
    for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]:
        api_rule = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "AbortIncompleteMultipartUpload" in rule:
            api_rule["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api_rule)
    return rules


def point_channels_at_simulator(sim_port: int, channels_file: Path = DEFAULT_CHANNELS_FILE) -> None:
    """Tests: rewrite the stage's channels secret for a simulator started on another port."""
    secret = json.dumps(channels_for_simulator(channels_file, sim_port), ensure_ascii=False)
    client("secretsmanager").put_secret_value(
        SecretId=get_settings().channels_secret_id, SecretString=secret
    )
    channels.forget()


def load_channels(channels_file: Path = DEFAULT_CHANNELS_FILE) -> dict:
    return json.loads(channels_file.read_text(encoding="utf-8"))


def write_keys_file(path: Path, admin_key: str, shop_key: str) -> None:
    """The bootstrap keys as `export` lines (readable by the user only): `source` the file before
    the next `make run` to keep the same keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        f"export PAYTRACK_ADMIN_KEY={admin_key}\nexport PAYTRACK_SHOP_KEY={shop_key}\n",
        encoding="utf-8",
    )


def bootstrap_keys(admin_key: str, shop_key: str) -> None:
    auth.ensure_key("bootstrap admin", "admin", admin_key)
    auth.ensure_key("bootstrap shop", "shop", shop_key)
