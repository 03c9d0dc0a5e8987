// Refunds through the gateway: the refund dialog on an order (amount prefilled with what is left,
// reason required, which payment), the order's refund requests with their states, and the admins'
// approvals queue (#/refunds). Its words are here, in both languages, beside the code that uses them.
import { pathPart } from "./api.js";
import { h, icon, mount, openDialog, toast } from "./dom.js";
import { fromMinor, money, toMinor } from "./fmt.js";
import { lang } from "./i18n.js";
import { badge, card, emptyState, errorBox, loading, time } from "./ui.js";
import { amountPattern } from "./meta.js";

const TEXT = {
  zh: {
    "nav": "退款审批", "title": "退款审批", "action": "原路退款", "card": "退款申请", "card_sub": "经支付渠道原路退回的款项及其状态",
    "none": "此订单没有退款申请", "queue_none": "没有待审批的退款", "queue_sub": "超过限额或已发货订单的退款，须由另一位管理员批准后才会发往渠道",
    "explain": "款项将通过支付渠道原路退回买家。渠道确认前状态为「处理中」；超过限额或订单已发货时须管理员审批。",
    "payment": "退款的支付", "payment_sale": "{ref}（原支付 {amount}）", "payment_duplicate": "{ref}（重复支付 {amount}）",
    "amount": "退款金额", "amount_left": "最多可退 {amount}", "reason": "退款原因", "reason_required": "请填写退款原因",
    "bad_amount": "请输入金额，例如 8.00", "too_much": "超过可退金额 {amount}", "confirm": "确认退款", "sending": "提交中…",
    "cancel": "取消", "not_supported": "该渠道不支持经 paytrack 退款：请在渠道后台退款，然后用「标记已退款」记录。",
    "record_manual": "改为记录手动退款", "approve": "批准", "reject": "驳回", "note": "审批意见", "note_required": "请填写审批意见",
    "approved": "已批准，退款已发往渠道", "rejected": "已驳回", "own": "自己提交的申请须由另一位管理员审批",
    "requested": "已提交退款 {amount}", "waiting": "退款 {amount} 等待管理员审批", "succeeded": "退款 {amount} 成功",
    "pending_toast": "退款 {amount} 已提交，等待渠道确认", "failed": "退款失败：{detail}",
    "col_order": "订单", "col_amount": "金额", "col_payment": "支付", "col_reason": "原因", "col_by": "申请人", "col_at": "申请时间",
    "col_why": "需要审批的原因", "col_state": "状态", "col_detail": "渠道说明", "open_order": "查看订单",
    "why.amount_above_limit": "金额超过限额", "why.already_delivered": "订单已发货",
    "state.awaiting_approval": "待审批", "state.pending": "处理中", "state.succeeded": "退款成功", "state.failed": "退款失败",
    "state.rejected": "已驳回",
    "settle": "手动确认结果", "settled": "退款结果已确认", "outcome": "渠道后台显示",
    "settle_explain": "渠道没有回答这笔退款（易支付无法查询退款）：请先在渠道后台按退款单号核实，再按实际结果确认。",
    "more": "加载更多",
  },
  en: {
    "nav": "Refund approvals", "title": "Refund approvals", "action": "Refund", "card": "Refund requests",
    "card_sub": "Money sent back through the payment channel, and where each refund stands",
    "none": "No refund requests on this order", "queue_none": "No refund waits for approval",
    "queue_sub": "Refunds above the limit, or of delivered orders, go to the channel only after another admin approves them",
    "explain": "The money goes back to the buyer through the payment channel. It is pending until the channel confirms; above the limit or for a delivered order an admin must approve it first.",
    "payment": "Payment to refund", "payment_sale": "{ref} (the payment, {amount})", "payment_duplicate": "{ref} (duplicate payment, {amount})",
    "amount": "Amount", "amount_left": "At most {amount}", "reason": "Reason", "reason_required": "Give the reason for the refund",
    "bad_amount": "Enter an amount such as 8.00", "too_much": "More than the {amount} left to refund", "confirm": "Refund",
    "sending": "Sending…", "cancel": "Cancel",
    "not_supported": "This channel cannot refund through paytrack: refund in the channel's console, then record it with “Mark refunded”.",
    "record_manual": "Record a manual refund instead", "approve": "Approve", "reject": "Reject", "note": "Note",
    "note_required": "Give a note for the decision", "approved": "Approved: the refund went to the channel", "rejected": "Rejected",
    "own": "Your own request is approved by another admin", "requested": "Refund of {amount} requested",
    "waiting": "Refund of {amount} waits for an admin's approval", "succeeded": "Refund of {amount} succeeded",
    "pending_toast": "Refund of {amount} sent; waiting for the channel to confirm", "failed": "The refund failed: {detail}",
    "col_order": "Order", "col_amount": "Amount", "col_payment": "Payment", "col_reason": "Reason", "col_by": "Requested by",
    "col_at": "Requested", "col_why": "Why it needs approval", "col_state": "State", "col_detail": "Channel says",
    "open_order": "Open order", "why.amount_above_limit": "above the limit", "why.already_delivered": "already delivered",
    "state.awaiting_approval": "Awaiting approval", "state.pending": "Pending", "state.succeeded": "Refunded",
    "state.failed": "Failed", "state.rejected": "Rejected",
    "settle": "Settle by hand", "settled": "The refund's outcome is recorded", "outcome": "The channel's console shows",
    "settle_explain": "The channel never answered for this refund (epay cannot be asked): check it in the channel's console by its refund request id, then record what it shows.",
    "more": "Load more",
  },
};

const STATE_TONES = { awaiting_approval: "warning", pending: "info", succeeded: "success", failed: "danger", rejected: "muted" };

export function tr(key, vars) {
  let text = (TEXT[lang()] || TEXT.zh)[key] ?? TEXT.zh[key] ?? key;
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

export function refundStateBadge(state) {
  return badge(tr(`state.${state}`), STATE_TONES[state] || "neutral", { "data-refund-state": state });
}

// An amount string in minor units of `digits` decimals ("8" and "8.00" are both 800 at 2).
function minorAt(text, digits) {
  const { minor, digits: given } = toMinor(text);
  return given <= digits ? minor * 10 ** (digits - given) : Math.round(minor / 10 ** (given - digits));
}

function digitsOf(amount) { return (String(amount).split(".")[1] || "").length; }

// What is left to refund of a payment, as the server counts it: its amount less requests awaiting
// approval or pending, less what succeeded (for the sale's payment, the first, at least the refunded
// amount, which includes refunds recorded by hand). The server decides; this only prefills.
function refundable(o, payment, index) {
  const digits = digitsOf(payment.amount);
  const mine = (o.refunds || []).filter((r) => r.payment === payment.payment_ref);
  const sum = (states) => mine.filter((r) => states.includes(r.state)).reduce((n, r) => n + minorAt(r.amount, digits), 0);
  let done = sum(["succeeded"]);
  if (index === 0 && o.refunded_amount) done = Math.max(done, minorAt(o.refunded_amount, digits));
  return fromMinor(Math.max(minorAt(payment.amount, digits) - sum(["awaiting_approval", "pending"]) - done, 0), digits);
}

// The refund dialog. `manual(o)` opens the existing "mark refunded" action when the channel
// cannot refund through paytrack.
export async function refundDialog(ctx, o, reload, manual) {
  const key = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  const payments = (o.payments || []).map((p, i) => ({ p, left: refundable(o, p, i), duplicate: i > 0 }));
  const choosable = payments.filter((x) => minorAt(x.left, digitsOf(x.left)) > 0);
  const preferred = choosable.find((x) => x.duplicate) || choosable[0];
  const result = await openDialog(tr("action"), (close) => {
    const payment = h("select", { class: "input", id: "refund-payment", name: "payment" }, choosable.map((x) =>
      h("option", { value: x.p.payment_ref, selected: x === preferred },
        tr(x.duplicate ? "payment_duplicate" : "payment_sale", { ref: x.p.payment_ref, amount: money(x.p.amount, x.p.currency) }))));
    const amount = h("input", { class: "input input-num", id: "refund-amount", name: "amount", inputmode: "decimal",
      value: preferred ? preferred.left : "" });
    const hint = h("p", { class: "small muted", id: "refund-left" });
    const leftOf = () => choosable.find((x) => x.p.payment_ref === payment.value);
    const showLeft = () => { const x = leftOf(); hint.textContent = x ? tr("amount_left", { amount: money(x.left, x.p.currency) }) : ""; };
    payment.addEventListener("change", () => { amount.value = leftOf()?.left || ""; showLeft(); });
    showLeft();
    const reason = h("textarea", { class: "input", id: "refund-reason", name: "reason", rows: 3, maxlength: 500, required: true });
    const problem = h("div", { class: "dialog-error", "aria-live": "assertive" });
    const submit = h("button", { type: "submit", class: "btn btn-warning primary", "data-action": "confirm-refund" }, tr("confirm"));
    const fail = (node) => { problem.replaceChildren(node); };
    return h("form", {
      class: "dialog-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        problem.replaceChildren();
        const text = reason.value.trim();
        const value = amount.value.trim();
        if (!text) { fail(h("p", { class: "text-danger", role: "alert" }, tr("reason_required"))); reason.focus(); return; }
        const chosen = leftOf();
        if (!amountPattern(chosen ? chosen.p.currency : o.currency).test(value)) { fail(h("p", { class: "text-danger", role: "alert" }, tr("bad_amount"))); amount.focus(); return; }
        if (chosen && minorAt(value, digitsOf(chosen.left)) > minorAt(chosen.left, digitsOf(chosen.left))) {
          fail(h("p", { class: "text-danger", role: "alert" }, tr("too_much", { amount: money(chosen.left, chosen.p.currency) })));
          return;
        }
        submit.disabled = true;
        submit.textContent = tr("sending");
        try {
          close(await ctx.api.post(`/admin/orders/${pathPart(o.order_no)}/actions`,
            { action: "refund", reason: text, amount: value, payment: payment.value, idempotency_key: key }));
        } catch (error) {
          if (error.code === "refund_not_supported") {
            fail(h("div", { class: "alert alert-warning", role: "alert" }, h("p", {}, tr("not_supported")),
              h("button", { type: "button", class: "btn btn-secondary", "data-action": "record-manual",
                onclick: () => { close(undefined); manual(o); } }, tr("record_manual"))));
          } else {
            fail(errorBox(error));
          }
          submit.disabled = false;
          submit.textContent = tr("confirm");
        }
      },
    },
    h("p", { class: "muted" }, tr("explain")),
    h("label", { class: "label", for: "refund-payment" }, tr("payment")), payment,
    h("label", { class: "label", for: "refund-amount" }, tr("amount")), amount, hint,
    h("label", { class: "label", for: "refund-reason" }, tr("reason"), h("span", { class: "required" }, " *")), reason,
    problem,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, tr("cancel")), submit));
  });
  if (!result) return;
  const r = result.refund;
  const amountText = money(r.amount, r.currency);
  const say = { awaiting_approval: ["waiting", "info"], pending: ["pending_toast", "info"], succeeded: ["succeeded", "success"],
    failed: ["failed", "error"] }[r.state] || ["requested", "success"];
  toast(tr(say[0], { amount: amountText, detail: r.detail || "" }), say[1]);
  reload(true);
}

// The order's refund requests; admins decide the ones awaiting approval.
export function refundsCard(ctx, o, reload) {
  const list = o.refunds || [];
  const body = list.length ? h("div", { class: "table-wrap" }, refundTable(ctx, list.map((r) => ({ ...r, order_no: o.order_no })), reload, false))
    : emptyState(tr("none"));
  return card(tr("card"), body, { id: "refunds", subtitle: tr("card_sub") });
}

function refundTable(ctx, rows, reload, queue) {
  const cols = queue ? ["col_order", "col_amount", "col_reason", "col_why", "col_by", "col_at"]
    : ["col_amount", "col_payment", "col_reason", "col_state", "col_detail", "col_by", "col_at"];
  return h("table", { class: "table refunds-table" },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c === "col_amount" ? "num" : null }, tr(c))), h("th", {}))),
    h("tbody", {}, rows.map((r) => {
      const cells = {
        col_order: h("a", { href: `#/orders/${encodeURIComponent(r.order_no)}`, class: "mono" }, r.order_no),
        col_amount: h("span", { class: "money" }, money(r.amount, r.currency)),
        col_payment: h("span", { class: "mono small" }, r.payment),
        col_reason: r.reason,
        col_why: (r.approval_reasons || []).map((w) => tr(`why.${w}`)).join("、") || "—",
        col_state: refundStateBadge(r.state),
        col_detail: h("span", { class: "small" }, r.detail || "—"),
        col_by: h("span", { class: "small" }, r.requested_by || "—"),
        col_at: time(r.requested_at, true),
      };
      return h("tr", { "data-refund": r.refund_request_id },
        cols.map((c) => h("td", { "data-label": tr(c), class: c === "col_amount" ? "num" : null }, cells[c])),
        h("td", {}, ctx.role === "admin" ? adminButtons(ctx, r, reload) : null));
    })));
}

let me = null;
function whoAmI(ctx) {
  me = me || ctx.api.get("/admin/me").catch(() => ({}));
  return me;
}

function adminButtons(ctx, r, reload) {
  if (r.state === "awaiting_approval") return decisionButtons(ctx, r, reload);
  if (r.state !== "pending") return null;
  return h("button", { type: "button", class: "btn btn-secondary btn-small", "data-action": "settle-refund",
    onclick: () => decide(ctx, r, "settle", reload) }, tr("settle"));
}

function decisionButtons(ctx, r, reload) {
  const holder = h("div", { class: "action-row" });
  whoAmI(ctx).then((who) => {
    if (who && who.id === r.requested_by) {
      mount(holder, h("span", { class: "small muted" }, tr("own")));
      return;
    }
    mount(holder,
      h("button", { type: "button", class: "btn btn-primary btn-small", "data-action": "approve-refund",
        onclick: () => decide(ctx, r, "approve", reload) }, icon("check"), tr("approve")),
      h("button", { type: "button", class: "btn btn-ghost btn-small", "data-action": "reject-refund",
        onclick: () => decide(ctx, r, "reject", reload) }, icon("x"), tr("reject")));
  });
  return holder;
}

async function decide(ctx, r, verb, reload) {
  const done = await openDialog(tr(verb), (close) => {
    const note = h("textarea", { class: "input", id: "decision-note", name: "note", rows: 2, maxlength: 500, required: true });
    const problem = h("div", { class: "dialog-error", "aria-live": "assertive" });
    const submit = h("button", { type: "submit", class: "btn btn-primary primary", "data-action": `confirm-${verb}` }, tr(verb));
    // settling by hand: what the channel's console shows (POST …/settle {outcome, note})
    const outcome = verb === "settle" ? h("select", { class: "input", id: "settle-outcome", name: "outcome" },
      ["succeeded", "failed"].map((state) => h("option", { value: state }, tr(`state.${state}`)))) : null;
    return h("form", {
      class: "dialog-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        problem.replaceChildren();
        if (!note.value.trim()) { problem.append(h("p", { class: "text-danger", role: "alert" }, tr("note_required"))); return; }
        submit.disabled = true;
        try {
          close(await ctx.api.post(`/admin/orders/${pathPart(r.order_no)}/refunds/${pathPart(r.refund_request_id)}/${verb}`,
            { note: note.value.trim(), ...(outcome ? { outcome: outcome.value } : {}) }));
        } catch (error) {
          problem.append(errorBox(error));
          submit.disabled = false;
        }
      },
    },
    h("p", { class: "small" }, `${r.order_no} · ${money(r.amount, r.currency)} · ${r.reason}`),
    outcome ? [h("p", { class: "small muted" }, tr("settle_explain")),
      h("label", { class: "label", for: "settle-outcome" }, tr("outcome")), outcome] : null,
    h("label", { class: "label", for: "decision-note" }, tr("note"), h("span", { class: "required" }, " *")), note, problem,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, tr("cancel")), submit));
  });
  if (!done) return;
  toast(tr({ approve: "approved", reject: "rejected", settle: "settled" }[verb]), "success");
  reload(false);
}

// #/refunds: the approvals queue (admins), a page at a time: "more" follows the API's cursor.
export async function render(ctx) {
  ctx.setTitle(tr("title"));
  mount(ctx.root, loading());
  const rows = [];
  const more = h("div", { class: "more" });
  const load = async (cursor) => {
    more.replaceChildren();
    let answer;
    try {
      answer = await ctx.api.get("/admin/refunds", { state: "awaiting_approval", limit: 50, cursor: cursor || undefined });
    } catch (error) {
      if (!ctx.alive()) return;
      mount(cursor ? more : ctx.root, errorBox(error, { retry: () => (cursor ? load(cursor) : render(ctx)) }));
      return;
    }
    if (!ctx.alive()) return;
    rows.push(...(answer.refunds || []));
    mount(ctx.root, card(tr("title"), rows.length
      ? h("div", {}, h("div", { class: "table-wrap" }, refundTable(ctx, rows, () => render(ctx), true)), more)
      : emptyState(tr("queue_none")), { id: "approvals", subtitle: tr("queue_sub") }));
    if (answer.next_cursor) {
      mount(more, h("button", { type: "button", class: "btn btn-secondary", "data-action": "more",
        onclick: () => load(answer.next_cursor) }, tr("more")));
    }
  };
  await load(null);
}
