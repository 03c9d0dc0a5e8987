"""The small interface every gateway module implements, and the request/answer shapes.

A gateway module exposes one `Gateway` subclass, listed once in registry.py. It never touches AWS
or our tables: it turns a raw inbound request plus the channel's credentials into a verified
`Notice`, and says how to answer the gateway in its own protocol. It also asks the gateway about
one order (补单), one trade number and one refund, and fetches the statement of one day (对账),
each given one `CallContext` (the channel, its credentials, the HTTP client, the clock). The class
also says what the rest of paytrack needs to know of its type: its display name, the payment
methods it reports, the fields a channel of the type needs and what its trade numbers look like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from ..domain.errors import RefundNotOffered
from ..domain.labels import Label
from ..domain.lookup import GatewayTrade
from ..domain.notice import Notice
from ..domain.query import QueryResult
from ..domain.refunds import RefundAnswer, RefundCall
from ..domain.statement import Statement
from ._http import GatewayHttp
from ._signing import redact_keys


class Headers(dict[str, str]):
    """Header names arrive in any case: store them lower-cased."""

    def __init__(self, raw: Mapping[str, str] | None = None):
        super().__init__({k.lower(): v for k, v in (raw or {}).items()})

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class InboundRequest:
    """What reached /notify/{channel}, exactly as received (verify over these bytes)."""

    method: str
    headers: Headers
    body: bytes
    query: Mapping[str, str]
    source_ip: str | None = None
    raw_query_string: str | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallContext:
    """What every call to a gateway's API is made with."""

    config: Mapping[str, Any]  # the channel's credentials and settings
    channel: str
    http: GatewayHttp
    now: datetime


class Gateway:
    """One gateway type: what it is called and needs, and how it is spoken to."""

    type_name: ClassVar[str]
    label: ClassVar[Label]
    #: the payment methods its notices name (`Notice.method`), with their display names
    methods: ClassVar[tuple[tuple[str, Label], ...]]
    #: how the reply to a buyer names the way they paid when the notice names no method
    buyer_name: ClassVar[str]
    #: the fields a channel of this type must set (services/channel_config.py)
    required_fields: ClassVar[tuple[str, ...]]
    #: what its trade numbers look like (the number on the buyer's receipt), to know whom to ask
    trade_no_format: ClassVar[re.Pattern[str]]
    #: credential fields whose values never reach logs, audit records or errors
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def parse_notification(
        self, request: InboundRequest, config: Mapping[str, Any], channel: str, now: datetime
    ) -> Notice | None:
        """Verify the request and return its notice.

        Raises a `NotificationRejected` subclass when it must not be applied (bad signature,
        malformed, wrong account, stale timestamp, probe). Returns None for a verified event
        that concerns no order state (an event type we do not track): answered with success.
        """
        raise NotImplementedError

    def success_answer(self) -> Answer:
        raise NotImplementedError

    def failure_answer(self, message: str, status: int) -> Answer:
        """The gateway's failure answer. `status` is what an HTTP-minded gateway should see:
        400 rejected, 409 order not registered yet, 413 too large, 503 not stored. Gateways
        whose protocol is "200 + fail" ignore it."""
        raise NotImplementedError

    def redact(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The raw payload for the notice, with `secret_fields` and every secret-named field
        (client_secret, *_key, *_token, ...) masked, whatever the event type."""
        redacted: dict[str, Any] = redact_keys(payload, self.secret_fields)
        return redacted

    def query_order(
        self, ctx: CallContext, out_trade_no: str, trade_no: str | None = None
    ) -> QueryResult:
        """Ask the gateway whether the order was paid, verifying its answer.

        "No such trade" is `QueryStatus.NOT_FOUND`, an answer. A gateway that cannot be
        reached, or whose answer does not verify or read, raises `GatewayUnavailable`: the
        caller must never take that for "unpaid".
        """
        raise NotImplementedError

    def find_trade(self, ctx: CallContext, trade_no: str) -> GatewayTrade | None:
        """The verified trade of that gateway trade number, or None ("no such trade", an
        answer); raises `GatewayUnavailable` when the gateway cannot tell."""
        raise NotImplementedError

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        """Whether `refund` can be asked of this channel's gateway."""
        return False

    def refund(self, ctx: CallContext, call: RefundCall) -> RefundAnswer:
        """Ask the gateway to refund, verifying its answer. The same `call.request_id` again asks
        for the same refund (the gateway dedupes on it). A business refusal (balance too low,
        trade closed) is a FAILED answer; no answer, or one that does not verify, raises
        `GatewayUnavailable`: the refund stays pending and is asked about later."""
        raise RefundNotOffered(
            f"{self.type_name} channels cannot refund through paytrack: refund in the "
            "gateway's console, then record it with the mark_refunded action",
            {"gateway": self.type_name, "manual_action": "mark_refunded"},
        )

    def query_refund(self, ctx: CallContext, call: RefundCall) -> RefundAnswer | None:
        """What the gateway says of the refund `call.request_id`; None when it has never heard
        of it (it may be asked again with the same id)."""
        raise RefundNotOffered(
            f"{self.type_name} channels offer no refund query", {"gateway": self.type_name}
        )

    def fetch_statement(self, ctx: CallContext, day: date) -> Statement:
        """Download and parse the statement of one Beijing day.

        Raises `StatementUnparseable` (with the line and the reason), `StatementNotReady` or
        `GatewayUnavailable`.
        """
        raise NotImplementedError


class TextAnswers:
    """The "200 success" / "200 fail" protocol of Alipay and epay (they ignore HTTP status)."""

    def success_answer(self) -> Answer:
        return Answer(200, "success")

    def failure_answer(self, message: str, status: int) -> Answer:
        return Answer(200, "fail")
