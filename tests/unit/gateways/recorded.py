"""Recorded gateway answers played back through a requests adapter, and the fixtures in the
gateways' real formats (tests/unit/gateways/fixtures)."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from chalicelib.gateways._http import GatewayHttp

FIXTURES = Path(__file__).with_name("fixtures")
Answer = tuple[int, dict, bytes]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def wechat_answer(name: str) -> Answer:
    """A recorded WeChat Pay answer: status, headers (with its signature) and body."""
    recorded = json.loads(fixture(name))
    return recorded["status"], recorded["headers"], recorded["body"].encode("utf-8")


def alipay_answer(name: str) -> Answer:
    return 200, {"Content-Type": "application/json;charset=utf-8"}, fixture(name)


def json_answer(obj: object, status: int = 200) -> Answer:
    return (
        status,
        {"Content-Type": "application/json"},
        json.dumps(obj, ensure_ascii=False).encode(),
    )


def alipay_zip(detail: bytes | None = None, summary: bytes | None = None) -> bytes:
    """The bill ZIP as Alipay ships it: GBK file names without the UTF-8 flag."""

    class GbkName(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):
            return self.filename.encode("gbk"), self.flag_bits

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            (
                "20880000000000010156_20261124_业务明细.csv",
                detail if detail is not None else fixture("alipay_trade_bill_20261124_detail.csv"),
            ),
            (
                "20880000000000010156_20261124_业务明细(汇总).csv",
                summary
                if summary is not None
                else fixture("alipay_trade_bill_20261124_summary.csv"),
            ),
        ):
            info = GbkName(name, date_time=(2026, 11, 25, 10, 30, 12))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def wechat_gzip(raw: bytes | None = None) -> bytes:
    return gzip.compress(
        raw if raw is not None else fixture("wechatpay_tradebill_ALL_20261124.csv")
    )


class Recorded(BaseAdapter):
    """Answers each request with the next recorded answer (or `answer(request)`), keeping the
    requests for the test to inspect."""

    def __init__(self, answers: list[Answer] | Callable[[requests.PreparedRequest], Answer]):
        super().__init__()
        self.answers = answers
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, headers, body = (
            self.answers(request) if callable(self.answers) else self.answers.pop(0)
        )
        if isinstance(body, Exception):
            raise body
        response = requests.Response()
        response.status_code, response.headers, response._content = (
            status,
            CaseInsensitiveDict(headers),
            body,
        )
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


def http(adapter: Recorded, attempts: int = 3) -> GatewayHttp:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return GatewayHttp(session=session, attempts=attempts, backoff_s=0)
