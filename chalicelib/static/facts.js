// The API's structured facts in words, Chinese or English: timeline entries, anomalies' expected
// and seen values, the buyer's region and device, a notice's source. The API's English `message`
// is shown only for an entry type this page does not know and that brings no facts of its own.
import { h } from "./dom.js";
import { dateTime, duration, money } from "./fmt.js";
import { extend, has, lang, t } from "./i18n.js";
import { channelName, gatewayName, methodName, ruleName } from "./ui.js";

extend({
  "tlx.created": "下单：{product} × {quantity}，{amount}，支付渠道 {channel}",
  "tlx.created_expiry": "，{d}内未支付将过期",
  "tlx.payment": "收到付款 {amount}，渠道 {channel}",
  "tlx.payment_late": "超时后收到付款 {amount}，渠道 {channel}",
  "tlx.payment_duplicate": "收到第二笔付款 {amount}，需要退还给买家",
  "tlx.method": "，方式 {method}", "tlx.trade_no": "渠道交易号",
  "tlx.hold": "暂停发货：{reasons}", "tlx.release": "解除暂停发货（原因：{reasons}）", "tlx.release_plain": "解除暂停发货",
  "tlx.delivery_delivered": "商城已发货", "tlx.delivery_failed": "商城发货失败",
  "tlx.expired": "超过支付截止时间未付款，订单已过期",
  "tlx.anomaly": "发现异常：{rule}（{severity}）", "tlx.anomaly_held": "发现异常：{rule}（{severity}），已暂停发货", "tlx.anomaly_released_since": "发现异常：{rule}（{severity}），未再暂停发货：运营已在此之后放行",
  "tlx.query": "向{channel}查询：渠道状态 {status}", "tlx.query_result": "（{result}）",
  "tlx.query_unanswered": "{channel}没有应答，稍后会再查询",
  "tlx.reconciliation": "{date} 对账单：手续费 {fee}，净额 {net}",
  "tlx.refund_gateway": "渠道退款，累计已退 {total}", "tlx.refund_request": "经渠道退款 {amount}", "tlx.refund_operator": "登记退款 {amount}，累计已退 {total}",
  "tlx.closed": "渠道关闭了交易（未付款）", "tlx.notice": "渠道通知，状态 {status}",
  "tlx.conflict": "渠道状态 {status} 与本单状态「{ours}」冲突，未应用",
  "tlx.note_label": "说明",
  "tl.refund_requested": "申请退款", "tl.refund_succeeded": "退款成功", "tl.refund_failed": "退款失败",
  "tl.verification_requested": "请求买家验证", "tl.verification_answered": "买家已回复验证",
  "tl.statement_fee": "对账手续费", "tl.other": "其他记录", "tl.verification_decided": "验证结束",
  "dk.question": "问题", "dk.answer": "买家回答", "dk.template": "模板", "dk.decision": "结果", "dk.verification_id": "验证编号",
  "dk.reply_by": "回复截止",
  "qstatus.paid": "已支付", "qstatus.pending": "未支付", "qstatus.closed": "已关闭", "qstatus.not_found": "渠道查无此单",
  "qstatus.refunded": "已退款", "qstatus.unavailable": "无应答", "qstatus.misconfigured": "渠道配置有误",
  "qapplied.applied": "已更新订单", "qapplied.duplicate": "已是最新", "qapplied.refused": "未应用", "qapplied.kept": "已暂存",
  "ax.expected": "应为", "ax.seen": "实际",
  "ax.channel": "在{channel}付款", "ax.paid_by": "{at} 前付款", "ax.paid_at": "{at} 付款",
  "ax.one_payment": "只有一笔付款（{ref}）", "ax.nth_payment": "第 {n} 笔付款（{ref}）",
  "ax.allowed_from": "本单状态「{status}」允许的变更", "ax.gateway_status": "渠道状态 {status}",
  "ax.personal_email": "个人常用邮箱", "ax.email.disposable_domain": "一次性邮箱域名",
  "ax.email.random_local_part": "随机生成的邮箱名",
  "ax.no_quick_refund": "付款后 {n} 分钟内不退款", "ax.refunded_after": "付款后 {d}退款",
  "ax.below": "低于 {amount}",
  "ax.burst_limit": "同一 IP {m} 分钟内少于 {orders} 单或少于 {buyers} 个买家", "ax.burst_seen": "{orders} 单，{buyers} 个买家",
  "ax.failure_limit": "失败率不超过 {p}%", "ax.failure_seen": "{attempts} 笔中 {failed} 笔失败（{p}%）",
  "ax.deliver_within": "付款后 {n} 分钟内发货", "ax.undelivered_after": "付款 {d}后仍是「{status}」",
  "ax.registered_first": "先登记订单再付款", "ax.registered_first_no": "先登记订单 {no} 再付款",
  "ax.notice_without_order": "收到{kind}通知，但没有这笔订单",
  "region.private": "内网或保留地址", "region.unknown": "未知", "region.china": "中国",
  "device.mobile": "手机", "device.tablet": "平板", "device.pc": "电脑", "device.bot": "爬虫", "device.other": "其他设备",
  "raw.masked": "原始内容只对运营和管理员显示",
  "nsource.notify": "异步通知", "nsource.query": "主动查询", "nsource.statement": "对账单",
  "rnote.paid_here_only": "我方已付款，渠道账单中没有", "rnote.refunded_here_only": "我方已退款，渠道没有退款",
  "rnote.refunded_there_only": "渠道已退款，我方没有退款记录", "rnote.refunds_differ": "渠道退款 {gateway}，我方 {ours}",
}, {
  "tlx.created": "ordered: {product} × {quantity}, {amount}, channel {channel}",
  "tlx.created_expiry": ", expires unpaid after {d}",
  "tlx.payment": "payment of {amount} on {channel}",
  "tlx.payment_late": "late payment of {amount} on {channel}",
  "tlx.payment_duplicate": "second payment of {amount}: to be refunded",
  "tlx.method": ", method {method}", "tlx.trade_no": "trade number",
  "tlx.hold": "delivery held: {reasons}", "tlx.release": "hold released (was: {reasons})", "tlx.release_plain": "hold released",
  "tlx.delivery_delivered": "the shop delivered", "tlx.delivery_failed": "the shop's delivery failed",
  "tlx.expired": "not paid by the deadline: expired",
  "tlx.anomaly": "anomaly: {rule} ({severity})", "tlx.anomaly_held": "anomaly: {rule} ({severity}), delivery held", "tlx.anomaly_released_since": "anomaly: {rule} ({severity}), not held again: an operator released the order after it was found",
  "tlx.query": "asked {channel}: gateway status {status}", "tlx.query_result": " ({result})",
  "tlx.query_unanswered": "{channel} did not answer; it will be asked again",
  "tlx.reconciliation": "statement of {date}: fee {fee}, net {net}",
  "tlx.refund_gateway": "refunded at the gateway, {total} in total", "tlx.refund_request": "refund of {amount} through the gateway", "tlx.refund_operator": "refund of {amount} recorded, {total} in total",
  "tlx.closed": "closed at the gateway without payment", "tlx.notice": "gateway notice, status {status}",
  "tlx.conflict": "gateway status {status} conflicts with this order's \"{ours}\": not applied",
  "tlx.note_label": "Note",
  "tl.refund_requested": "Refund requested", "tl.refund_succeeded": "Refund succeeded", "tl.refund_failed": "Refund failed",
  "tl.verification_requested": "Verification requested", "tl.verification_answered": "Verification answered",
  "tl.statement_fee": "Statement fee", "tl.other": "Other", "tl.verification_decided": "Verification ended",
  "dk.question": "question", "dk.answer": "answer", "dk.template": "template", "dk.decision": "decision",
  "dk.verification_id": "verification", "dk.reply_by": "reply by",
  "qstatus.paid": "paid", "qstatus.pending": "unpaid", "qstatus.closed": "closed", "qstatus.not_found": "unknown to the gateway",
  "qstatus.refunded": "refunded", "qstatus.unavailable": "no answer", "qstatus.misconfigured": "channel misconfigured",
  "qapplied.applied": "order updated", "qapplied.duplicate": "already up to date", "qapplied.refused": "not applied", "qapplied.kept": "kept",
  "ax.expected": "expected", "ax.seen": "seen",
  "ax.channel": "paid on {channel}", "ax.paid_by": "paid by {at}", "ax.paid_at": "paid at {at}",
  "ax.one_payment": "one payment ({ref})", "ax.nth_payment": "payment #{n} ({ref})",
  "ax.allowed_from": "a change allowed from \"{status}\"", "ax.gateway_status": "gateway status {status}",
  "ax.personal_email": "a personal e-mail address", "ax.email.disposable_domain": "a throwaway domain",
  "ax.email.random_local_part": "a random-looking name",
  "ax.no_quick_refund": "no refund within {n} minutes of payment", "ax.refunded_after": "refunded {d} after payment",
  "ax.below": "below {amount}",
  "ax.burst_limit": "under {orders} orders or {buyers} buyers per IP in {m} minutes", "ax.burst_seen": "{orders} orders, {buyers} buyers",
  "ax.failure_limit": "at most {p}% failed", "ax.failure_seen": "{failed} of {attempts} failed ({p}%)",
  "ax.deliver_within": "delivered within {n} minutes of payment", "ax.undelivered_after": "still \"{status}\" {d} after payment",
  "ax.registered_first": "the order registered before its payment", "ax.registered_first_no": "order {no} registered before its payment",
  "ax.notice_without_order": "a {kind} notice with no order",
  "region.private": "private or reserved network", "region.unknown": "unknown", "region.china": "China",
  "device.mobile": "phone", "device.tablet": "tablet", "device.pc": "computer", "device.bot": "bot", "device.other": "other device",
  "raw.masked": "raw payloads are shown to operators and admins",
  "nsource.notify": "notification", "nsource.query": "query", "nsource.statement": "statement",
  "rnote.paid_here_only": "paid here, not in the gateway's statement", "rnote.refunded_here_only": "refunded here, not at the gateway",
  "rnote.refunded_there_only": "refunded at the gateway, not here", "rnote.refunds_differ": "refunded {gateway} at the gateway, {ours} here",
});

const word = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value);
const amountOf = (f, key = "amount") => (f[key] ? money(f[key], f.currency || "CNY") : "—");
const list = (items, prefix) => (items || []).map((i) => word(prefix, i)).join(t("common.list_sep"));
const holdReason = (reason) => (reason === "operator" ? t("order.hold_operator") : ruleName(reason));

// A value someone typed (an operator's reason, the shop's delivery detail): shown as written.
function typed(text) {
  return text ? h("span", { class: "typed", "data-typed": "" }, text) : null;
}

function code(text) {
  return h("span", { class: "mono code" }, text);
}

const TIMELINE = {
  created: (f) => [t("tlx.created", { product: f.product, quantity: f.quantity, amount: amountOf(f), channel: channelName(f.channel) }),
    f.expires_in_s ? t("tlx.created_expiry", { d: duration(f.expires_in_s) }) : ""],
  payment: (f) => {
    if (f.duplicate) return [t("tlx.payment_duplicate", { amount: amountOf(f) }), tradeNo(f)];
    return [t(f.late ? "tlx.payment_late" : "tlx.payment", { amount: amountOf(f), channel: channelName(f.channel) }),
      f.method ? t("tlx.method", { method: methodName(f.method) }) : "", tradeNo(f)];
  },
  hold: (f) => [t("tlx.hold", { reasons: (f.reasons || []).map(holdReason).join(t("common.list_sep")) })],
  release: (f) => [f.released && f.released.length
    ? t("tlx.release", { reasons: f.released.map(holdReason).join(t("common.list_sep")) }) : t("tlx.release_plain")],
  delivery: (f) => [t(f.status === "failed" ? "tlx.delivery_failed" : "tlx.delivery_delivered")],
  status: (f) => (f.pay_status === "expired" ? [t("tlx.expired")] : null),
  anomaly: (f) => [t(f.held ? "tlx.anomaly_held" : f.released_since ? "tlx.anomaly_released_since" : "tlx.anomaly", { rule: ruleName(f.rule), severity: word("severity", f.severity) })],
  query: (f) => (["unavailable", "misconfigured"].includes(f.status)
    ? [t("tlx.query_unanswered", { channel: channelName(f.channel) })]
    : [t("tlx.query", { channel: channelName(f.channel), status: f.gateway_status || "—" }),
      t("tlx.query_result", { result: [word("qstatus", f.status), f.applied ? word("qapplied", f.applied) : null].filter(Boolean).join("，") })]),
  reconciliation: (f) => [t("tlx.reconciliation", { date: f.date || "—", fee: amountOf(f, "fee"), net: amountOf(f, "net") })],
  refund: (f) => (f.state ? [t("tlx.refund_request", { amount: amountOf(f) }), tradeNo(f)] : [f.total && f.refunded
    ? t("tlx.refund_operator", { amount: amountOf(f, "refunded"), total: amountOf(f, "total") })
    : t("tlx.refund_gateway", { total: amountOf(f, "total") })]),
  closed: () => [t("tlx.closed")],
  notice: (f) => [t("tlx.notice", { status: f.gateway_status || "—" })],
  conflict: (f) => [t("tlx.conflict", { status: f.gateway_status || "—", ours: word("pay", f.pay_status) })],
  note: () => [],
};

function tradeNo(f) {
  return f.trade_no ? [` · ${t("tlx.trade_no")} `, code(f.trade_no)] : "";
}

// Keys that only carry bookkeeping or are said by the sentence already.
const SAID = new Set(["amount", "currency", "channel", "method", "trade_no", "late", "duplicate", "reasons", "released",
  "note", "detail", "reason", "why", "status", "pay_status", "held", "released_since", "rule", "severity", "anomaly_id", "product", "quantity",
  "expires_in_s", "gateway_status", "applied", "fee", "net", "date", "run", "refunded", "total", "expires_at"]);

// What a timeline entry says: [sentence parts, free text]. An unknown type shows its facts as
// labelled fields, and its English message only when it brings no facts.
export function timelineText(entry) {
  const f = entry.facts || entry.data || {};
  const known = TIMELINE[entry.type];
  const sentence = known ? known(f) : null;
  const note = f.note || f.reason || f.detail || null;
  if (sentence) return { sentence, note, extra: [] };
  const extra = Object.entries(f).filter(([k, v]) => !SAID.has(k) && v !== null && typeof v !== "object");
  const unknownAmount = f.amount ? [money(f.amount, f.currency || "CNY")] : [];
  if (!unknownAmount.length && !extra.length && !note) return { sentence: [entry.message], note: null, extra: [], english: true };
  return { sentence: unknownAmount, note, extra: extra.map(([k, v]) => [has(`dk.${k}`) ? t(`dk.${k}`) : k, String(v)]) };
}

export function timelineLabel(type) {
  return has(`tl.${type}`) ? t(`tl.${type}`) : (lang() === "zh" ? t("tl.other") : type.replace(/_/g, " "));
}

// "运营 小王": the role, then the key's name (or its id, for a key deleted since) as written.
export function actorText(entry) {
  if (!entry.actor) return null;
  const role = entry.source === "operator" ? t("source.operator") : word("source", entry.source);
  return [`${role} `, entry.actor_name ? typed(entry.actor_name) : code(entry.actor)];
}

// Who handled an anomaly: the key's name, "系统" for the system, else the key id.
export function handlerText(anomaly) {
  if (!anomaly.updated_by) return "—";
  if (anomaly.updated_by === "system") return t("source.system");
  return anomaly.updated_by_name ? typed(anomaly.updated_by_name) : code(anomaly.updated_by);
}

// ------------------------------------------------------------------------------- anomalies

const at = (iso) => dateTime(iso);

const ANOMALY = {
  amount_mismatch: (f) => f.expected_amount && [money(f.expected_amount.amount, f.expected_amount.currency),
    f.seen_amount ? money(f.seen_amount.amount, f.seen_amount.currency) : "—"],
  channel_mismatch: (f) => [t("ax.channel", { channel: channelName(f.expected_channel) }),
    f.seen_channel ? t("ax.channel", { channel: channelName(f.seen_channel) }) : "—"],
  late_payment: (f) => f.deadline && [t("ax.paid_by", { at: at(f.deadline) }), t("ax.paid_at", { at: at(f.paid_at) })],
  duplicate_payment: (f) => f.first_ref && [t("ax.one_payment", { ref: f.first_ref }), t("ax.nth_payment", { n: f.position, ref: f.extra_ref })],
  status_conflict: (f) => [t("ax.allowed_from", { status: word("pay", f.ledger_status) }), t("ax.gateway_status", { status: f.gateway_status || "—" })],
  suspicious_email: (f) => [t("ax.personal_email"), list(f.email_problems, "ax.email")],
  quick_refund: (f) => f.within_minutes !== undefined && [t("ax.no_quick_refund", { n: f.within_minutes }), t("ax.refunded_after", { d: duration(f.elapsed_s) })],
  large_amount: (f, d) => d.threshold && [t("ax.below", { amount: money(d.threshold.amount, d.threshold.currency) }),
    d.paid ? money(d.paid.amount, d.paid.currency) : "—"],
  ip_burst: (f) => f.min_orders && [t("ax.burst_limit", { m: f.window_minutes, orders: f.min_orders, buyers: f.min_buyers }),
    t("ax.burst_seen", { orders: f.order_count, buyers: f.buyer_count })],
  channel_failure: (f) => f.attempts && [t("ax.failure_limit", { p: f.max_percent }), t("ax.failure_seen", { failed: f.failed, attempts: f.attempts, p: f.percent })],
  slow_delivery: (f) => f.after_minutes && [t("ax.deliver_within", { n: f.after_minutes }),
    t("ax.undelivered_after", { d: duration(f.waited_s), status: word("delivery", f.delivery_status) })],
  unknown_order: (f) => f.kind && [f.out_trade_no ? t("ax.registered_first_no", { no: f.out_trade_no }) : t("ax.registered_first"),
    t("ax.notice_without_order", { kind: word("nkind", f.kind) })],
};
ANOMALY.currency_mismatch = ANOMALY.amount_mismatch;

// [expected, seen] in words, or null when the anomaly carries no facts this page can word.
export function expectedSeen(anomaly) {
  const worded = ANOMALY[anomaly.rule];
  const pair = worded ? worded(anomaly.facts || {}, anomaly.details || {}) : null;
  return pair || null;
}

// ------------------------------------------------------------------------------- the buyer

export function regionText(location, fallback) {
  if (!location) return fallback || t("region.unknown");
  if (location.kind === "private") return t("region.private");
  if (location.kind === "unknown") return t("region.unknown");
  if (location.kind === "configured") return location.label;
  if (location.country_code === "CN") {
    const city = location.city && location.province && location.city.replace(/市$/, "") === location.province.replace(/[省市]$/, "")
      ? null : location.city;
    const place = [location.province, city, location.isp].filter(Boolean).join(" ");
    return place ? (lang() === "zh" ? place : `${t("region.china")} · ${place}`) : t("region.china");
  }
  return countryName(location.country_code) || location.country || t("region.unknown");
}

function countryName(code) {
  if (!code) return null;
  try {
    return new Intl.DisplayNames([lang() === "zh" ? "zh-CN" : "en"], { type: "region" }).of(code);
  } catch {
    return null;
  }
}

export function deviceText(o) {
  if (!o.device && !o.browser && !o.os) return null;
  return [o.device ? word("device", o.device) : null, o.browser, o.os].filter(Boolean).join(" · ");
}

export function noticeSource(n) {
  return [gatewayName(n.gateway), n.source ? word("nsource", n.source) : null].filter(Boolean).join(" · ");
}

export function rawPayload(n) {
  return n.raw_masked ? h("p", { class: "muted small" }, t("raw.masked")) : h("pre", { class: "code" }, JSON.stringify(n.raw, null, 2));
}

// "应为 … 实际 …" for an anomaly, or null.
export function expectedSeenLine(anomaly) {
  const pair = expectedSeen(anomaly);
  if (!pair) return null;
  return h("p", { class: "expect", "data-expect": "" },
    h("span", { class: "muted" }, t("ax.expected")), " ", h("strong", {}, pair[0]), "  ",
    h("span", { class: "muted" }, t("ax.seen")), " ", h("strong", { class: "text-danger" }, pair[1]));
}

// One anomaly detail in words, by what its key says it is.
const DETAIL_WORDS = { delivery_status: "delivery", ledger_status: "pay", pay_status: "pay", kind: "nkind", source: "source",
  result: "result", status: "pay", state: "vstate" };
const MONEY_KEYS = new Set(["statement", "ledger", "difference", "amount"]);
const SETTLED_KEYS = new Set(["fee", "net", "settled"]);

export function detailValue(key, v, details = {}, facts = {}) {
  if (v === null || v === undefined || v === "") return "—";
  if (key === "note" && facts.note_code) {
    return t(`rnote.${facts.note_code}`, { gateway: money(facts.gateway_refund, details.currency), ours: money(facts.our_refund, details.currency) });
  }
  if (typeof v === "object" && !Array.isArray(v) && "amount" in v && "currency" in v) {
    return money(v.amount, v.currency) + (v.ref ? ` (${v.ref})` : "");
  }
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(t("common.list_sep"));
  if (typeof v === "object") return JSON.stringify(v);
  if (/_at$/.test(key) || key === "event_time") return dateTime(v);
  if (/channel$/.test(key)) return channelName(v);
  if (DETAIL_WORDS[key]) return word(DETAIL_WORDS[key], v);
  const settledIn = details.settlement_currency || details.currency;    // fees and net are charged in the settlement currency
  if (SETTLED_KEYS.has(key) && settledIn) return money(v, settledIn);
  if (MONEY_KEYS.has(key) && details.currency) return money(v, details.currency);
  return String(v);
}
