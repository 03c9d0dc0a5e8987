"""Create every AWS resource a stage needs on the embedded AWS (moto): tables with streams and
TTL, the files bucket, the SNS topics, the channels secret, the bootstrap API keys.

Used by `make run` (against the moto server) and by the integration tests (in-process moto).
"""
from __future__ import annotations

import json
from pathlib import Path

from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, channels
from chalicelib.store.schema import create_tables

DEFAULT_CHANNELS_FILE = Path(__file__).with_name("channels.dev.json")


def provision(channels_file: Path = DEFAULT_CHANNELS_FILE) -> None:
    settings = get_settings()
    create_tables()
    s3 = client("s3")
    s3.create_bucket(Bucket=settings.bucket,
                     CreateBucketConfiguration={"LocationConstraint": settings.region})
    for arn in (settings.events_topic_arn, settings.paging_topic_arn):
        client("sns").create_topic(Name=arn.rsplit(":", 1)[1])
    client("secretsmanager").create_secret(Name=settings.channels_secret_id,
                                           SecretString=channels_file.read_text(encoding="utf-8"))
    channels.forget()


def load_channels(channels_file: Path = DEFAULT_CHANNELS_FILE) -> dict:
    return json.loads(channels_file.read_text(encoding="utf-8"))


def bootstrap_keys(admin_key: str, shop_key: str) -> None:
    auth.ensure_key("bootstrap admin", "admin", admin_key)
    auth.ensure_key("bootstrap shop", "shop", shop_key)
