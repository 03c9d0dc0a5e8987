// Finding a payment at the gateway (GET /admin/lookup): when the order search finds nothing for a
// trade number, the gateways whose numbers look like it are asked. What each says is shown beside
// paytrack's order of the same merchant order number; a paid trade on an unpaid order is applied
// through the order's confirm_paid action (the gateway is asked again, by the order number).
import { pathPart } from "./api.js";
import { h, icon, mount, toast } from "./dom.js";
import { lang } from "./i18n.js";
import { money } from "./fmt.js";
import { card, channelName, errorBox, fields, loading, payBadge, time } from "./ui.js";

const WORDS = {
  zh: {
    title: "在支付渠道查找这笔付款", sub: "本地没有这个交易号：已向交易号格式相符的渠道查询。",
    asking: "正在询问支付渠道…", gateway: "渠道说", ours: "本系统的订单",
    status: "渠道状态", amount: "金额", paid_at: "付款时间", out_trade_no: "商户订单号", no_order: "本系统没有这个订单",
    apply: "确认到账并补单", applied: "已补单：订单已按渠道的回答确认到账", reason: "买家提供的渠道交易号 {no}，渠道查询确认已付款",
    not_found: "没有一个渠道知道这个交易号", asked: "已询问：{list}", found_local: "本系统已有这个交易号的订单：",
    "answer.found": "找到", "answer.not_found": "没有", "answer.unavailable": "无法回答",
    "gstatus.paid": "已付款", "gstatus.not_paid": "未付款", "gstatus.closed": "已关闭", "gstatus.refunded": "已退款",
  },
  en: {
    title: "Find this payment at the gateway", sub: "No local match for this trade number: the gateways whose numbers look like it were asked.",
    asking: "Asking the gateways…", gateway: "The gateway says", ours: "paytrack's order",
    status: "Gateway status", amount: "Amount", paid_at: "Paid at", out_trade_no: "Merchant order no.", no_order: "paytrack has no such order",
    apply: "Confirm paid and apply", applied: "Applied: the order is paid, as the gateway says", reason: "buyer's gateway trade number {no}, the gateway confirms payment",
    not_found: "No gateway knows this trade number", asked: "Asked: {list}", found_local: "paytrack already has orders with this trade number:",
    "answer.found": "found", "answer.not_found": "no", "answer.unavailable": "no answer",
    "gstatus.paid": "paid", "gstatus.not_paid": "not paid", "gstatus.closed": "closed", "gstatus.refunded": "refunded",
  },
};

function w(key, values = {}) {
  const text = (WORDS[lang()] || WORDS.zh)[key] || WORDS.zh[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// The trade numbers of the gateways paytrack speaks to (domain/lookup.py): digits, or a Stripe id.
export function looksLikeTradeNo(text) {
  return /^(\d{14,32}|(pi|ch|py)_[A-Za-z0-9]{8,64})$/.test((text || "").trim());
}

function askedLine(asked) {
  const list = (asked || []).map((a) => `${a.channel} ${w(`answer.${a.answer}`)}`).join("、");
  return list ? h("p", { class: "muted small", "data-lookup": "asked" }, w("asked", { list })) : null;
}

function foundCard(ctx, found, tradeNo, reload) {
  const g = found.gateway;
  const order = found.order;
  const apply = found.can_apply && ctx.canAct ? h("button", {
    type: "button", class: "btn btn-primary", "data-action": "apply-lookup",
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        await ctx.api.post(`/admin/orders/${pathPart(order.order_no)}/actions`,
          { action: "confirm_paid", reason: w("reason", { no: tradeNo }) });
        toast(w("applied"), "success");
        reload();
      } catch (error) {
        event.target.disabled = false;
        toast(error.message || String(error), "error");
      }
    } }, icon("check"), w("apply")) : null;
  return h("div", { class: "grid grid-2", "data-lookup": "found", "data-channel": g.channel },
    card(`${w("gateway")} · ${channelName(g.channel)}`, fields([
      [w("status"), h("span", { "data-field": "gateway-status" }, `${w(`gstatus.${g.status}`)} (${g.gateway_status})`)],
      [w("amount"), g.amount ? h("span", { class: "money" }, money(g.amount, g.currency)) : null],
      [w("paid_at"), g.paid_at ? time(g.paid_at, true) : null],
      [w("out_trade_no"), g.out_trade_no ? h("span", { class: "mono" }, g.out_trade_no) : null],
    ])),
    card(w("ours"), order ? [fields([
      [w("out_trade_no"), h("a", { class: "mono", href: `#/orders/${pathPart(order.order_no)}` }, order.order_no)],
      [w("status"), payBadge(order.pay_status)],
      [w("amount"), h("span", { class: "money" }, money(order.amount, order.currency))],
    ]), apply] : h("p", { class: "muted" }, w("no_order"))));
}

// The panel under an empty order search for a trade number: the search falls through to the gateways.
export function lookupPanel(ctx, tradeNo) {
  const body = h("div", { class: "lookup-body" });
  const run = async () => {
    mount(body, loading(w("asking")));
    try {
      const result = await ctx.api.get("/admin/lookup", { trade_no: tradeNo });
      if (!ctx.alive()) return;
      if (result.source === "paytrack") {
        mount(body, h("p", {}, w("found_local"), " ", result.orders.map((o) =>
          h("a", { class: "mono", href: `#/orders/${pathPart(o.order_no)}` }, o.order_no))));
        return;
      }
      mount(body, result.found.map((found) => foundCard(ctx, found, tradeNo, run)), askedLine(result.asked));
    } catch (error) {
      if (!ctx.alive()) return;
      const asked = error.details && error.details.asked;
      mount(body, error.code === "not_found"
        ? h("div", { class: "empty", "data-lookup": "none" }, h("p", {}, w("not_found")), askedLine(asked))
        : [errorBox(error, { retry: run }), askedLine(asked)]);
    }
  };
  run();
  return card(w("title"), body, { id: "lookup", subtitle: w("sub") });
}
