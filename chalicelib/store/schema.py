"""Create every table the stage needs (local stack and tests; in AWS, CloudFormation does it)."""

from __future__ import annotations

from .models import ALL_MODELS


def create_tables() -> None:
    for model in ALL_MODELS:
        model.create_table(wait=True)
