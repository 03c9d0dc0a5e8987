"""Fixtures for the simulator's tests: the published vectors, a stand-in for paytrack's
/notify endpoint, and simulators built from the committed dev config."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from local.simulator import (DEFAULT_CHANNELS_FILE, GatewaySimulator, load_channels,
                             load_sim_config)

FAST = 1 / 2400     # Alipay's 4-minute first retry after 0.1 s


def shared_dir() -> Path:
    default = Path(__file__).resolve().parents[3].parent / "shared"
    return Path(os.environ.get("PAYTRACK_SHARED_DIR") or default)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    path = shared_dir() / "vectors"
    assert path.is_dir(), f"published vectors not found at {path} (set PAYTRACK_SHARED_DIR)"
    return path


@pytest.fixture(scope="session")
def vector(vectors_dir):
    return lambda name: json.loads((vectors_dir / f"{name}_vector.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def channels() -> dict:
    return load_channels(DEFAULT_CHANNELS_FILE)


@pytest.fixture(scope="session")
def sim_config() -> dict:
    return load_sim_config()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def params(self) -> dict[str, str]:
        """Alipay/epay fields, from the query string or the form body."""
        return dict(parse_qsl(self.query or self.body.decode(), keep_blank_values=True))


class Receiver:
    """Plays paytrack's /notify/{channel}: records every request, answers from a script
    (each answer once, the last one for good)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[tuple[int, str]] = [(200, "success")]
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, received: Received) -> tuple[int, str]:
        with self._lock:
            self.requests.append(received)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                status, text = receiver._answer(
                    Received(self.command, url.path, url.query, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def make_sim(receiver, channels, sim_config):
    """Build a simulator notifying `receiver` (or `api_url`); closed after the test."""
    built = []

    def make(time_scale=FAST, api_url=None, channels_override=None, **options):
        sim = GatewaySimulator(api_url or receiver.url, channels_override or channels,
                               {**sim_config, **options}, time_scale=time_scale)
        built.append(sim)
        return sim

    yield make
    for sim in built:
        sim.close()
