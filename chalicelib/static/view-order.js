// One order: every field, the timeline, notices, payments, anomalies, the operator's actions (each
// with a required reason) and the sentence for the buyer with a copy button.
import { pathPart } from "./api.js";
import { copyText, h, icon, mount, openDialog, toast } from "./dom.js";
import { dateTime, duration, money } from "./fmt.js";
import { colon, has, t } from "./i18n.js";
import { actorText, deviceText, handlerText, expectedSeenLine, noticeSource, rawPayload, regionText, timelineLabel, timelineText } from "./facts.js";
import { anomalyActions } from "./view-anomalies.js";
import { refundDialog, refundsCard, refundStateBadge, tr as refundText } from "./view-refunds.js";
import { verificationCard } from "./view-verification.js";
import {
  anomalyStatusBadge, badge, card, channelName, deliveryCell, emptyState, errorBox, fields, gatewayName, loading, methodName, payBadge, pii,
  ruleName, severityBadge, time,
} from "./ui.js";
import { amountPattern } from "./meta.js";

const TIMELINE_TONES = { created: "neutral", payment: "success", refund: "purple", closed: "muted", notice: "info",
  conflict: "danger", hold: "warning", release: "info", delivery: "success", status: "muted", anomaly: "danger",
  note: "neutral", query: "info", reconciliation: "teal", verification_requested: "warning",
  verification_answered: "info", verification_decided: "success" };

export async function render(ctx, highlightLast = false) {
  const orderNo = ctx.parts[1];
  ctx.setTitle(`${t("order.title")} ${orderNo}`);
  mount(ctx.root, backLink(), loading());
  let order;
  try {
    order = await ctx.api.get(`/admin/orders/${pathPart(orderNo)}`);
  } catch (error) {
    if (!ctx.alive()) return;
    mount(ctx.root, backLink(), errorBox(error, { retry: () => render(ctx) }));
    return;
  }
  if (!ctx.alive()) return;
  const reload = (highlight) => render(ctx, highlight);
  mount(ctx.root,
    backLink(),
    header(order),
    order.hold ? holdBanner(ctx, order, reload) : null,
    verificationCard(ctx, order, reload),
    replyCard(order),
    (order.allowed_actions || []).length ? actionsCard(ctx, order, reload) : null,
    h("div", { class: "grid grid-2" },
      card(t("order.section_trade"), tradeFields(order)),
      card(t("order.section_buyer"), buyerFields(order))),
    card(t("order.section_money"), moneyFields(order)),
    (order.refunds || []).length ? refundsCard(ctx, order, reload) : null,
    card(t("related.title"), related(order.related), { id: "related", subtitle: t("related.sub", { days: order.related ? order.related.window_days : 30 }) }),
    card(t("order.timeline"), timeline(order, highlightLast), { id: "timeline", subtitle: t("order.timeline_sub") }),
    card(t("order.anomalies"), anomalies(ctx, order, reload), { id: "anomalies" }),
    card(t("order.notices"), notices(order), { id: "notices", subtitle: t("order.notices_sub") }),
    card(t("order.payments"), payments(order), { id: "payments" }));
  if (highlightLast) document.querySelector(".tl-item:last-child")?.scrollIntoView({ block: "center" });
}

function backLink() {
  const last = window.sessionStorage.getItem("paytrack.last_orders") || "#/orders";
  return h("div", { class: "crumbs" }, h("a", { href: last, class: "btn btn-ghost btn-small", "data-action": "back" }, icon("back"), t("order.back")));
}

function holdReason(reason) {
  if (reason === "operator") return t("order.hold_operator");
  return has(`rule.${reason}`) ? t(`rule.${reason}`) : reason;
}

function header(o) {
  const copyNo = h("button", { type: "button", class: "icon-btn", "aria-label": t("order.copy_no"), title: t("order.copy_no"),
    onclick: async () => toast((await copyText(o.order_no)) ? t("common.copied") : o.order_no, "success") }, icon("copy"));
  return h("section", { class: ["card", "order-head", o.hold && "order-head-held"], "aria-label": t("order.title") },
    h("div", { class: "order-head-main" },
      h("div", { class: "order-no" }, h("span", { class: "muted" }, t("col.order_no")), h("strong", { class: "mono", "data-field": "order_no" }, o.order_no), copyNo),
      h("h2", { class: "order-product" }, h("span", { "data-typed": "" }, o.product_name), o.quantity > 1 ? h("span", { class: "muted" }, ` × ${o.quantity}`) : null),
      h("div", { class: "badges" }, payBadge(o.pay_status), deliveryCell(o),
        (o.hold_reasons || []).map((r) => badge(holdReason(r), "warning", { "data-hold-reason": r })),
        h("span", { class: "muted small" }, `${t("col.created_at")} ${dateTime(o.created_at)}`))),
    h("div", { class: "order-head-amount" },
      h("div", { class: "muted small" }, t("order.amount")),
      h("div", { class: "amount-big money", "data-field": "amount" }, money(o.amount, o.currency)),
      o.paid_amount ? h("div", { class: ["small", o.paid_amount !== o.amount ? "text-danger strong" : "muted"] },
        t("order.paid_amount_line", { amount: money(o.paid_amount, o.currency) })) : null));
}

function holdBanner(ctx, o, reload) {
  return h("div", { class: "alert alert-warning hold-banner", role: "status" }, icon("hand"),
    h("div", { class: "alert-body" },
      h("strong", {}, t("order.held_title")),
      h("p", {}, t("order.held_reasons", { reasons: (o.hold_reasons || []).map(holdReason).join("、") || "—" })),
      h("p", { class: "small" }, t("order.held_hint"))),
    allows(o, "release_hold") ? h("button", { type: "button", class: "btn btn-primary", "data-action": "release_hold",
      onclick: () => act(ctx, o, "release_hold", reload) }, t("act.release_hold")) : null);
}

function replyCard(o) {
  const text = o.customer_reply || "";
  const button = h("button", { type: "button", class: "btn btn-secondary", "data-action": "copy-reply",
    onclick: async () => {
      const ok = await copyText(text);
      mount(button, icon(ok ? "check" : "copy"), ok ? t("common.copied") : t("order.copy_failed"));
      window.setTimeout(() => mount(button, icon("copy"), t("order.copy_reply")), 2000);
    } }, icon("copy"), t("order.copy_reply"));
  return card(t("order.reply"), h("div", { class: "reply" },
    h("blockquote", { class: "reply-text", lang: "zh-CN", "data-field": "customer_reply" }, text), button),
  { subtitle: t("order.reply_sub") });
}

// What the order allows the caller now, as the server lists it (none for a viewer).
const allows = (o, action) => (o.allowed_actions || []).includes(action);

function actionsCard(ctx, o, reload) {
  const refund = allows(o, "refund") ? h("button", { type: "button", class: "btn btn-warning", "data-action": "refund",
    onclick: () => refundDialog(ctx, o, reload, (order) => act(ctx, order, "mark_refunded", reload)) }, refundText("action")) : null;
  return card(t("order.actions"), h("div", { class: "action-row" }, refund, o.allowed_actions.filter((a) => a !== "refund").map((a) =>
    h("button", { type: "button", class: ["btn", a === "hold" || a === "mark_refunded" ? "btn-warning" : "btn-secondary"],
      "data-action": a, onclick: () => act(ctx, o, a, reload) }, t(`act.${a}`)))),
  { subtitle: t("order.actions_sub"), id: "actions" });
}

async function act(ctx, o, action, reload) {
  const key = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  const result = await openDialog(t(`act.${action}`), (close) => {
    const reason = h("textarea", { class: "input", id: "reason", name: "reason", rows: 3, maxlength: 500, required: true,
      placeholder: t("act.reason_placeholder") });
    const amount = action === "mark_refunded" ? h("input", { class: "input input-num", id: "refund-amount", inputmode: "decimal",
      placeholder: o.paid_amount || o.amount }) : null;
    const problem = h("div", { class: "dialog-error", "aria-live": "assertive" });
    const submit = h("button", { type: "submit", class: "btn btn-primary primary", "data-action": "confirm" }, t("act.confirm"));
    return h("form", {
      class: "dialog-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        problem.replaceChildren();
        const text = reason.value.trim();
        if (!text) {
          problem.append(h("p", { class: "text-danger", role: "alert" }, t("act.reason_required")));
          reason.focus();
          return;
        }
        const body = { action, reason: text, idempotency_key: key };
        if (amount && amount.value.trim()) {
          if (!amountPattern(o.currency).test(amount.value.trim())) {
            problem.append(h("p", { class: "text-danger", role: "alert" }, t("orders.bad_amount")));
            return;
          }
          body.amount = amount.value.trim();
        }
        submit.disabled = true;
        submit.textContent = t("act.sending");
        try {
          close(await ctx.api.post(`/admin/orders/${pathPart(o.order_no)}/actions`, body));
        } catch (error) {
          problem.append(errorBox(error));
          submit.disabled = false;
          submit.textContent = t("act.confirm");
        }
      },
    },
    h("p", { class: "muted" }, t(`act.${action}_explain`)),
    h("p", { class: "small" }, t("act.order_line", { no: o.order_no, amount: money(o.amount, o.currency) })),
    amount ? [h("label", { class: "label", for: "refund-amount" }, t("act.refund_amount")), amount] : null,
    h("label", { class: "label", for: "reason" }, t("act.reason"), h("span", { class: "required" }, " *")),
    reason,
    problem,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, t("action.cancel")),
      submit));
  });
  if (!result) return;
  toast(result.outcome === "already_applied" ? t("act.already") : t("act.done", { action: t(`act.${action}`) }),
    result.outcome === "already_applied" ? "info" : "success");
  reload(true);
}

function tradeFields(o) {
  const latency = o.paid_at && o.delivered_at ? (new Date(o.delivered_at) - new Date(o.paid_at)) / 1000 : null;
  const waited = o.paid_at ? (new Date(o.paid_at) - new Date(o.created_at)) / 1000 : null;
  return fields([
    [t("col.order_no"), h("span", { class: "mono" }, o.order_no)],
    [t("order.product"), h("span", { "data-typed": "" }, `${o.product_name} (${o.product_id})`)],
    [t("order.quantity"), String(o.quantity)],
    [t("col.channel"), channelName(o.channel)],
    [t("order.gateway_method"), [o.gateway && gatewayName(o.gateway), o.method && methodName(o.method)].filter(Boolean).join(" · ") || null],
    [t("order.trade_no"), o.trade_no ? h("span", { class: "mono", "data-field": "trade_no" }, o.trade_no) : null],
    [t("col.created_at"), time(o.created_at, true)],
    [t("col.paid_at"), o.paid_at ? [time(o.paid_at, true), paidTimeNote(o, waited)] : null, { "data-field": "paid_at" }],
    [t("order.delivered_at"), o.delivered_at ? [time(o.delivered_at, true), latency !== null && latency >= 0 ? h("span", { class: "muted small" }, ` (${t("order.after_paid", { d: duration(latency) })})`) : null] : null],
    [t("order.expires_at"), time(o.expires_at, true)],
    o.expired_at ? [t("order.expired_at"), time(o.expired_at, true)] : null,
    o.closed_at ? [t("order.closed_at"), time(o.closed_at, true)] : null,
    o.refunded_at ? [t("order.refunded_at"), time(o.refunded_at, true)] : null,
  ]);
}

// Clock skew a gateway may have before a payment time is called wrong.
const SKEW_S = 300;

// "after 2 minutes", or a warning when the payment time cannot be true: before the order existed,
// or in the future.
function paidTimeNote(o, waited) {
  if (waited !== null && waited < -SKEW_S) return badge(t("order.paid_before_created"), "danger", { "data-time-problem": "before_created" });
  if ((new Date(o.paid_at) - Date.now()) / 1000 > SKEW_S) return badge(t("order.paid_in_future"), "danger", { "data-time-problem": "future" });
  return waited !== null && waited >= 0 ? h("span", { class: "muted small" }, ` (${t("order.after", { d: duration(waited) })})`) : null;
}

function buyerFields(o) {
  return fields([
    [t("order.email"), pii(o.buyer_email), { "data-field": "buyer_email" }],
    [t("order.buyer_id"), pii(o.buyer_id)],
    [t("order.ip"), pii(o.buyer_ip), { "data-field": "buyer_ip" }],
    [t("order.region"), o.buyer_ip ? regionText(o.buyer_location, o.buyer_region) : null, { "data-field": "region" }],
    [t("order.device"), deviceText(o), { "data-field": "device" }],
    [t("order.payer"), pii(o.payer)],
    [t("order.user_agent"), o.user_agent ? h("span", { class: "small mono wrap" }, o.user_agent) : (o.device ? h("span", { class: "masked" }, icon("lock"), t("masked.hidden")) : null)],
  ]);
}

function moneyFields(o) {
  const c = o.currency;
  const m = (v, currency = c) => (v ? h("span", { class: "money" }, money(v, currency)) : null);
  // the fee and net are in the settlement currency (the paid one unless the gateway converted)
  const fee = o.fee ? h("span", {}, m(o.fee, o.fee_currency),
    o.fee_status === "estimated" ? badge(t("order.fee_estimated"), "neutral", { "data-fee-status": "estimated", title: t("order.fee_estimated_hint") }) : null) : null;
  const strip = h("div", { class: "money-strip" }, [
    [t("order.amount"), m(o.amount)],
    [t("order.paid_amount"), m(o.paid_amount)],
    [t("order.fee"), fee],
    [t("order.received"), m(o.received_amount)],
    [t("order.net"), m(o.net_amount, o.net_currency || c)],
    [t("order.refunded"), m(o.refunded_amount)],
  ].map(([label, value]) => h("div", { class: "money-cell" }, h("span", { class: "muted small" }, label),
    h("strong", {}, value || h("span", { class: "muted" }, "—")))));
  if (!o.settled_amount) return strip;
  return h("div", {}, strip, h("p", { class: "muted small", "data-settlement": "" }, settlementText(o)));
}

// "US$19.99 → HK$155.92 @ 7.8, fee HK$9.21"
export function settlementText(o) {
  const converted = t("order.converted", { paid: money(o.paid_amount, o.currency), settled: money(o.settled_amount, o.settlement_currency), rate: o.exchange_rate });
  return o.fee ? `${converted}, ${t("order.converted_fee", { fee: money(o.fee, o.fee_currency) })}` : converted;
}

function timeline(o, highlightLast) {
  const entries = o.timeline || [];
  if (!entries.length) return emptyState(t("order.no_timeline"));
  return h("ol", { class: "timeline" }, entries.map((e, i) => {
    const tone = TIMELINE_TONES[e.type] || "neutral";
    const said = timelineText(e);
    const actor = actorText(e);
    return h("li", { class: ["tl-item", `tl-${tone}`, highlightLast && i === entries.length - 1 && "tl-new"], "data-type": e.type },
      h("span", { class: "tl-dot", "aria-hidden": "true" }),
      h("div", { class: "tl-body" },
        h("div", { class: "tl-head" },
          h("strong", {}, timelineLabel(e.type)),
          h("span", { class: "muted small" }, has(`source.${e.source}`) ? t(`source.${e.source}`) : e.source),
          e.type === "refund" && e.data && e.data.state ? refundStateBadge(e.data.state) : null,
          actor ? h("span", { class: "small actor", "data-actor": e.actor }, icon("shield"), actor) : null,
          h("time", { class: "tl-time", datetime: e.at }, dateTime(e.at))),
        said.sentence.length ? h("p", { class: "tl-message", lang: said.english ? "en" : null }, said.sentence) : null,
        said.note ? h("p", { class: "tl-message tl-note" }, h("span", { class: "muted" }, t("tlx.note_label"), colon()),
          h("span", { class: "typed", "data-typed": "" }, said.note)) : null,
        said.extra.length ? h("p", { class: "tl-data small muted" }, said.extra.map(([k, v], i) =>
          [i ? " · " : "", `${k}${colon()}`, h("span", { class: "typed" }, v)])) : null));
  }));
}

const RELATED_KINDS = ["email", "buyer_id", "ip", "device"];

// The buyer's other orders: counts by what they share, then each order with its status and amount.
function related(found) {
  if (!found) return emptyState(t("related.none"));
  const counts = h("div", { class: "related-counts" }, RELATED_KINDS.map((kind) =>
    h("span", { class: ["chip", "chip-static", found.counts[kind] ? "chip-hot" : null], "data-related-count": kind },
      t(`related.by_${kind}`), " ", h("strong", {}, String(found.counts[kind] || 0)))));
  if (!found.items.length) return [counts, emptyState(t("related.none"))];
  return [counts, h("div", { class: "table-wrap" }, h("table", { class: "table table-compact" },
    h("thead", {}, h("tr", {}, ["order_no", "created_at", "amount", "pay", "delivery", "matched"].map((k) =>
      h("th", { scope: "col", class: k === "amount" ? "num" : null }, t(`rcol.${k}`))))),
    h("tbody", {}, found.items.map((r) => h("tr", { "data-related": r.order_no },
      h("td", { "data-label": t("rcol.order_no") }, h("a", { class: "mono", href: `#/orders/${pathPart(r.order_no)}` }, r.order_no)),
      h("td", { "data-label": t("rcol.created_at") }, time(r.created_at)),
      h("td", { class: "num", "data-label": t("rcol.amount") }, h("span", { class: "money" }, money(r.amount, r.currency))),
      h("td", { "data-label": t("rcol.pay") }, payBadge(r.pay_status)),
      h("td", { "data-label": t("rcol.delivery") }, deliveryCell(r)),
      h("td", { "data-label": t("rcol.matched") }, r.matched_by.map((kind) => badge(t(`related.by_${kind}`), "info", { "data-matched": kind })))))))),
  found.truncated ? h("p", { class: "muted small" }, t("related.truncated")) : null];
}

function anomalies(ctx, o, reload) {
  const list = o.anomalies || [];
  if (!list.length) return emptyState(t("order.no_anomalies"));
  return h("ul", { class: "anomaly-list" }, list.map((a) => h("li", { class: "anomaly-row", "data-anomaly": a.id },
    h("div", { class: "anomaly-row-head" }, severityBadge(a.severity), h("strong", {}, ruleName(a.rule)), anomalyStatusBadge(a.status),
      h("span", { class: "muted small push" }, time(a.created_at))),
    expectedSeenLine(a),
    a.note ? h("p", { class: "small" }, t("anomalies.note_label"), colon(), h("span", { class: "typed" }, a.note),
      "（", handlerText(a), "）") : null,
    ctx.canAct ? anomalyActions(ctx, a, () => reload(false)) : null)));
}

function notices(o) {
  const list = o.notices || [];
  if (!list.length) return emptyState(t("order.no_notices"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["notice_time", "notice_kind", "gateway_status", "trade_no", "amount", "source", "raw"].map((k) =>
      h("th", { scope: "col", class: k === "amount" ? "num" : null }, t(`ncol.${k}`))))),
    h("tbody", {}, list.map((n) => h("tr", {},
      h("td", { "data-label": t("ncol.notice_time") }, time(n.event_time, true)),
      h("td", { "data-label": t("ncol.notice_kind") }, badge(has(`nkind.${n.kind}`) ? t(`nkind.${n.kind}`) : n.kind, "info")),
      h("td", { "data-label": t("ncol.gateway_status") }, h("span", { class: "mono small" }, n.gateway_status || "—")),
      h("td", { "data-label": t("ncol.trade_no") }, h("span", { class: "mono small" }, n.trade_no || "—")),
      h("td", { class: "num", "data-label": t("ncol.amount") }, n.amount ? h("span", { class: "money" }, money(n.amount, n.currency)) : "—"),
      h("td", { "data-label": t("ncol.source") }, noticeSource(n)),
      h("td", { "data-label": t("ncol.raw") }, h("details", { class: "raw" }, h("summary", {}, t("order.show_raw")),
        rawPayload(n))))))));
}

function payments(o) {
  const list = o.payments || [];
  if (!list.length) return emptyState(t("order.no_payments"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["payment_ref", "at", "channel", "amount", "fee", "received", "payer"].map((k) =>
      h("th", { scope: "col", class: ["amount", "fee", "received"].includes(k) ? "num" : null }, t(`pcol.${k}`))))),
    h("tbody", {}, list.map((p) => h("tr", {},
      h("td", { "data-label": t("pcol.payment_ref") }, h("span", { class: "mono small" }, p.payment_ref)),
      h("td", { "data-label": t("pcol.at") }, time(p.at, true)),
      h("td", { "data-label": t("pcol.channel") }, `${channelName(p.channel)}${p.method ? ` · ${methodName(p.method)}` : ""}`),
      h("td", { class: "num", "data-label": t("pcol.amount") }, h("span", { class: "money" }, money(p.amount, p.currency))),
      h("td", { class: "num", "data-label": t("pcol.fee") }, p.fee ? h("span", { class: "money" }, money(p.fee, p.currency)) : "—"),
      h("td", { class: "num", "data-label": t("pcol.received") }, p.received_amount ? h("span", { class: "money" }, money(p.received_amount, p.currency)) : "—"),
      h("td", { "data-label": t("pcol.payer") }, pii(p.payer)))))));
}
