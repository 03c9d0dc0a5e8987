"""The local stack started the way `make run` starts it (python -m local.stack), in a subprocess
on free ports, reached only over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import boto3
import pytest
import requests

from local import aws_process
from tests.conftest import REPO

ADMIN_KEY = "pt_admin_e2e_0000000000000000000000000000"
SHOP_KEY = "pt_shop_e2e_00000000000000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStack:
    api: str
    sim_port: int
    aws_endpoint: str
    process: subprocess.Popen
    log_path: str
    demo_log_path: str
    app_log_path: str

    def call(self, method: str, path: str, key: str = SHOP_KEY, **kwargs) -> requests.Response:
        return requests.request(
            method,
            self.api + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            **kwargs,
        )

    def aws(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="ap-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def app_log(self) -> str:
        """The app's log lines: each request, stream record, scheduled run and shop event (the
        console shows only their warnings)."""
        with open(self.app_log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def demo_log(self) -> str:
        """The demo's per-order lines (they stay off the console)."""
        with open(self.demo_log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def start_stack(
    tmp_path_factory, demo: bool, extra_env: dict[str, str] | None = None
) -> LocalStack:
    api_port, sim_port, aws_port = free_port(), free_port(), free_port()
    folder = tmp_path_factory.mktemp("stack")
    log_path, demo_log_path = str(folder / "stack.log"), str(folder / "demo.log")
    app_log_path = str(folder / "app.log")
    env = {
        **os.environ,
        "PAYTRACK_PORT": str(api_port),
        "PAYTRACK_SIM_PORT": str(sim_port),
        "PAYTRACK_AWS_PORT": str(aws_port),
        "PAYTRACK_ADMIN_KEY": ADMIN_KEY,
        "PAYTRACK_SHOP_KEY": SHOP_KEY,
        "PAYTRACK_DEMO": "1" if demo else "0",
        "PAYTRACK_DEMO_RATE": "2",
        "PYTHONUNBUFFERED": "1",
        "PAYTRACK_LOCAL_KEYS_FILE": str(folder / "local-keys.env"),
        "PAYTRACK_LOG_FORMAT": "json",
        "PAYTRACK_DEMO_LOG": demo_log_path,
        "PAYTRACK_APP_LOG": app_log_path,
        **(extra_env or {}),
    }
    env.pop("PAYTRACK_STAGE", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack = LocalStack(
        f"http://127.0.0.1:{api_port}",
        sim_port,
        f"http://127.0.0.1:{aws_port}",
        process,
        log_path,
        demo_log_path,
        app_log_path,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("local stack exited:\n" + stack.log())
        try:
            if stack.call("GET", "/orders/READY-CHECK").status_code == 404:
                return stack
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError("local stack did not come up:\n" + stack.log())


def stop_stack(stack: LocalStack) -> None:
    stack.process.terminate()
    try:
        stack.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stack.process.kill()


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    for name in aws_process.ENDPOINT_VARIABLES:
        os.environ.pop(name, None)
    running = start_stack(tmp_path_factory, demo=False)
    yield running
    stop_stack(running)
