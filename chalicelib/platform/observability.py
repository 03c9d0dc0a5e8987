"""Powertools logger, metrics and tracer, shared by every entry point."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "paytrack"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Paytrack", service=SERVICE)
