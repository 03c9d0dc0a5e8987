"""Exports in the caller's language: the status, result and kind codes of an export's cells in
Chinese when the request asks for `"lang": "zh"` (the admin page sends its own language), the
codes themselves otherwise (what scripts compare against). Headers are Chinese either way, except
the reconciliation export's, which are its JSON field names in English mode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.rules.registry import RULES

LANGUAGES = ("zh", "en")

ZH: dict[str, dict[str, str]] = {
    "pay_status": {
        "pending": "待支付",
        "paid": "已支付",
        "expired": "已过期",
        "closed": "已关闭",
        "refunded": "已退款",
        "partially_refunded": "部分退款",
    },
    "delivery_status": {
        "pending": "待发货",
        "held": "暂停发货",
        "delivered": "已发货",
        "failed": "发货失败",
    },
    # the rules' own labels (domain/rules/registry.py); the holds of ingestion are rules too
    "hold_reason": {
        **{name: r.label.zh for name, r in RULES.items() if r.fixed_hold},
        "operator": "人工暂停",
    },
    "rule": {
        **{name: r.label.zh for name, r in RULES.items()},
        "reconciliation_amount_mismatch": "对账：金额不符",
        "reconciliation_status_mismatch": "对账：状态不符",
        "reconciliation_missing_here": "对账：我方缺失",
        "reconciliation_missing_there": "对账：渠道缺失",
        "reconciliation_duplicate": "对账：重复",
        "reconciliation_overflow": "对账：差异过多",
    },
    "severity": {"critical": "严重", "warning": "警告", "info": "提示"},
    "anomaly_status": {"open": "待处理", "acknowledged": "处理中", "resolved": "已解决"},
    "notice_kind": {"payment": "付款", "refund": "退款", "closed": "关闭", "info": "信息"},
    "notice_source": {"notify": "异步通知", "query": "主动查询", "statement": "对账单"},
    "result": {
        "matched": "匹配",
        "amount_mismatch": "金额不符",
        "status_mismatch": "状态不符",
        "missing_here": "我方缺失",
        "missing_there": "渠道缺失",
        "duplicate": "重复",
    },
    "line_kind": {"payment": "付款", "refund": "退款", "fee": "手续费", "adjustment": "调整"},
    "device": {"mobile": "手机", "tablet": "平板", "pc": "电脑", "bot": "爬虫", "other": "其他"},
    "yes": {"yes": "是"},
}

RECONCILIATION_HEADER_ZH = {
    "channel": "渠道",
    "date": "账单日期",
    "n": "序号",
    "result": "结果",
    "kind": "类型",
    "line": "账单行",
    "out_trade_no": "商户订单号",
    "trade_no": "渠道交易号",
    "order_no": "订单编号",
    "currency": "币种",
    "statement": "账单金额",
    "ledger": "我方金额",
    "difference": "差额",
    "fee": "手续费",
    "net": "净额",
    "settlement_currency": "结算币种",
    "settled": "结算金额",
    "exchange_rate": "汇率",
    "refund_ref": "渠道退款单号",
    "refund_request_id": "退款单号",
    "at": "时间",
    "gateway_status": "渠道状态",
    "ledger_status": "我方状态",
    "note": "说明",
}


@dataclass(frozen=True)
class Words:
    lang: str = "en"

    def __call__(self, group: str, code: Any) -> Any:
        """The code in the caller's language; unknown codes and blanks as they are."""
        if self.lang != "zh" or not isinstance(code, str):
            return code
        return ZH[group].get(code, code)

    def joined(self, group: str, codes: Sequence[str]) -> str:
        return ("、" if self.lang == "zh" else ",").join(self(group, code) for code in codes)

    def header(self, names: Sequence[str]) -> list[str]:
        """The reconciliation export's column names (JSON field names) in the caller's language."""
        return (
            [RECONCILIATION_HEADER_ZH.get(name, name) for name in names]
            if self.lang == "zh"
            else list(names)
        )
