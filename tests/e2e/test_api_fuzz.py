"""Property-based fuzzing of every route in /openapi.json against the local stack (schemathesis):
whatever it sends, nothing answers 5xx, and every error is in API.md's shape (the `error_shape`
check of schemathesis_hooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.conftest import ADMIN_KEY


def test_no_route_answers_5xx_to_generated_requests(stack, tmp_path):
    report = tmp_path / "schemathesis.txt"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.api}/openapi.json",
        # the coverage phase is left out: schemathesis 4.32 fails internally on this document there
        "--phases",
        "examples,fuzzing,stateful",
        "--checks",
        "not_a_server_error,error_shape",
        "--max-examples",
        "25",
        "--workers",
        "2",
        "--generation-deterministic",
        "-H",
        f"Authorization: Bearer {ADMIN_KEY}",
        "--request-timeout",
        "30",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1500, cwd=REPO, env=env
    )
    report.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
