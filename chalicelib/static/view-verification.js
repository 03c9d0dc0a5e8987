// Buyer verification on the order page (GET/POST /admin/orders/{no}/verification): the whole
// review — the question asked through the shop, the buyer's answer or its expiry, the decision
// and its reason — and, for operators, asking (a template or their own question) and ending it
// by release (deliver) or refund.
import { pathPart } from "./api.js";
import { h, icon, mount, openDialog, toast } from "./dom.js";
import { lang } from "./i18n.js";
import { badge, card, emptyState, errorBox, fields, loading, time } from "./ui.js";
import { tr as refundText } from "./view-refunds.js";

const WORDS = {
  zh: {
    title: "买家验证", sub: "通过商城向买家提问，根据回答决定发货或退款。",
    none: "还没有发起验证。", held_only: "订单处于暂停发货状态时才能发起验证。",
    ask: "发起验证", ask_again: "重新提问", release: "验证通过，发货", refund: "验证未通过，退款",
    question: "问题", template: "问题模板", own: "自定义问题", answer: "买家回答", requested: "发起", expires: "截止",
    answered: "回答时间", decided: "结论", reason: "理由", reason_placeholder: "写下判断依据（会记入时间线和审计日志）",
    reason_required: "请填写理由。", question_required: "请选择模板或填写问题。", send: "发送", sending: "发送中…",
    cancel: "取消", asked_toast: "已通过商城向买家提问", decided_toast: "验证已结束：{decision}",
    manual_refund: "该渠道不支持经 paytrack 退款，已登记为手动退款：请在渠道后台把钱退给买家",
    history: "之前的验证", refund_amount: "退款金额（留空为全部已付金额）",
    "state.awaiting_answer": "等待买家回答", "state.expired": "已过期未回答", "state.answered": "买家已回答",
    "state.released": "已放行发货", "state.refunded": "已退款",
    "template.last4": "付款账户后四位", "template.pay_time": "付款时间与方式", "template.payer_surname": "实名姓氏",
    "template.free": "自定义问题",
  },
  en: {
    title: "Buyer verification", sub: "Ask the buyer through the shop, then deliver or refund on the answer.",
    none: "No verification asked yet.", held_only: "Verification is asked on a held order.",
    ask: "Ask the buyer", ask_again: "Ask again", release: "Verified: deliver", refund: "Not verified: refund",
    question: "Question", template: "Template", own: "Your own question", answer: "Buyer's answer", requested: "Asked",
    expires: "Answer by", answered: "Answered", decided: "Decision", reason: "Reason",
    reason_placeholder: "Why (kept on the timeline and in the audit log)", reason_required: "A reason is required.",
    question_required: "Pick a template or write a question.", send: "Send", sending: "Sending…", cancel: "Cancel",
    asked_toast: "The buyer is asked through the shop", decided_toast: "Verification ended: {decision}",
    manual_refund: "This channel cannot refund through paytrack, so a manual refund was recorded: refund the buyer in the channel's console",
    history: "Earlier verifications", refund_amount: "Refund amount (empty: all that was paid)",
    "state.awaiting_answer": "waiting for the buyer", "state.expired": "expired unanswered", "state.answered": "answered",
    "state.released": "released for delivery", "state.refunded": "refunded",
    "template.last4": "last four digits of the paying account", "template.pay_time": "when and how they paid",
    "template.payer_surname": "account holder's surname", "template.free": "own question",
  },
};

const STATE_TONES = { awaiting_answer: "info", expired: "danger", answered: "warning", released: "success", refunded: "purple" };
const OPEN = ["awaiting_answer", "expired", "answered"];

function w(key, values = {}) {
  const text = (WORDS[lang()] || WORDS.zh)[key] || WORDS.zh[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function templateName(name) {
  const known = (WORDS[lang()] || WORDS.zh)[`template.${name}`];
  return known || name;
}

function stateBadge(state) {
  return badge(w(`state.${state}`), STATE_TONES[state] || "neutral", { "data-verification-state": state });
}

function reviewFields(v) {
  return fields([
    [w("question"), h("span", { "data-field": "verification-question" }, v.question)],
    [w("requested"), [time(v.requested_at, true), v.requested_by ? h("span", { class: "muted small" }, ` · ${v.requested_by}`) : null]],
    [w("expires"), time(v.expires_at, true)],
    [w("answer"), v.answer !== null ? h("strong", { "data-field": "verification-answer" }, v.answer) : null],
    [w("answered"), v.answered_at ? time(v.answered_at, true) : null],
    v.decision ? [w("decided"), [w(`state.${v.decision === "release" ? "released" : "refunded"}`),
      h("span", { class: "muted small" }, ` · ${v.decided_by || ""} · `), time(v.decided_at, true)]] : null,
    v.reason ? [w("reason"), v.reason] : null,
  ]);
}

function dialogForm(fieldsEls, problem, submitLabel, onSubmit, close) {
  const submit = h("button", { type: "submit", class: "btn btn-primary primary", "data-action": "confirm" }, submitLabel);
  return h("form", {
    class: "dialog-form", novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      problem.replaceChildren();
      submit.disabled = true;
      submit.textContent = w("sending");
      try {
        const result = await onSubmit();
        if (result !== undefined) close(result);
      } catch (error) {
        problem.append(errorBox(error));
      }
      submit.disabled = false;
      submit.textContent = submitLabel;
    },
  }, fieldsEls, problem, h("div", { class: "dialog-actions" },
    h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, w("cancel")), submit));
}

function complain(problem, text, focus) {
  problem.append(h("p", { class: "text-danger", role: "alert" }, text));
  focus?.focus();
  return undefined;
}

function newKey() {
  return window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

async function askDialog(ctx, review) {
  return openDialog(w("ask"), (close) => {
    const names = Object.keys(review.templates || {});
    const template = h("select", { class: "input", id: "verification-template" },
      [...names, "free"].map((name) => h("option", { value: name }, name === "free" ? w("own")
        : `${templateName(name)} — ${review.templates[name]}`)));
    const question = h("textarea", { class: "input", id: "verification-question", rows: 3, maxlength: 500,
      placeholder: w("own") });
    const problem = h("div", { class: "dialog-error", "aria-live": "assertive" });
    // one idempotency key per question asked: sending it again after a failure is the same request
    let asked = null;
    return dialogForm([
      h("label", { class: "label", for: "verification-template" }, w("template")), template,
      h("label", { class: "label", for: "verification-question" }, w("own")), question,
    ], problem, w("send"), async () => {
      const own = question.value.trim();
      if (template.value === "free" && !own) return complain(problem, w("question_required"), question);
      const body = template.value === "free" ? { question: own } : { template: template.value };
      if (!asked || JSON.stringify(asked.body) !== JSON.stringify(body)) asked = { body, key: newKey() };
      return ctx.api.post(`/admin/orders/${pathPart(review.order_no)}/verification`,
        { ...body, idempotency_key: asked.key });
    }, close);
  });
}

async function decideDialog(ctx, review, decision) {
  return openDialog(w(decision), (close) => {
    const reason = h("textarea", { class: "input", id: "decision-reason", rows: 3, maxlength: 500, required: true,
      placeholder: w("reason_placeholder") });
    const amount = decision === "refund" ? h("input", { class: "input input-num", id: "decision-amount", inputmode: "decimal",
      placeholder: review.order.paid_amount || review.order.amount }) : null;
    const problem = h("div", { class: "dialog-error", "aria-live": "assertive" });
    return dialogForm([
      amount ? [h("label", { class: "label", for: "decision-amount" }, w("refund_amount")), amount] : null,
      h("label", { class: "label", for: "decision-reason" }, w("reason"), h("span", { class: "required" }, " *")), reason,
    ], problem, w(decision), async () => {
      const text = reason.value.trim();
      if (!text) return complain(problem, w("reason_required"), reason);
      const body = { decision, reason: text };
      if (amount && amount.value.trim()) body.amount = amount.value.trim();
      return ctx.api.post(`/admin/orders/${pathPart(review.order_no)}/verification/decision`, body);
    }, close);
  });
}

// The decision's toast; a refund says where it stands at the channel, or that it was recorded by hand.
function decidedMessage(result) {
  const ended = w("decided_toast", { decision: w(`state.${result.current.state}`) });
  if (result.manual_refund) return `${ended} · ${w("manual_refund")}`;
  return result.refund ? `${ended} · ${refundText(`state.${result.refund.state}`)}` : ended;
}

function buttons(ctx, review, order, reload) {
  if (!ctx.canAct) return null;
  const current = review.current;
  const open = current && OPEN.includes(current.state);
  const canAsk = order.hold && (!current || current.state !== "answered");
  const run = async (dialog, message) => {
    const result = await dialog();
    if (!result) return;
    toast(message(result), "success");
    reload(true);
  };
  return h("div", { class: "action-row" },
    canAsk ? h("button", { type: "button", class: "btn btn-secondary", "data-action": "verification-ask",
      onclick: () => run(() => askDialog(ctx, review), () => w("asked_toast")) }, icon("shield"),
    open ? w("ask_again") : w("ask")) : null,
    open ? ["release", "refund"].map((decision) => h("button", {
      type: "button", class: ["btn", decision === "release" ? "btn-primary" : "btn-warning"],
      "data-action": `verification-${decision}`,
      onclick: () => run(() => decideDialog(ctx, review, decision),
        (result) => decidedMessage(result)),
    }, w(decision))) : null);
}

function body(ctx, review, order, reload) {
  const current = review.current;
  const earlier = (review.history || []).slice(0, -1).reverse();
  return [
    current ? h("div", { class: "verification-current", "data-verification": current.id },
      h("div", { class: "badges" }, stateBadge(current.state), h("span", { class: "muted small" }, templateName(current.template))),
      reviewFields(current))
      : emptyState(w("none"), order.hold ? null : w("held_only")),
    buttons(ctx, review, order, reload),
    earlier.length ? h("details", { class: "raw" }, h("summary", {}, `${w("history")} (${earlier.length})`),
      earlier.map((v) => h("div", { class: "verification-earlier" }, stateBadge(v.state), reviewFields(v)))) : null,
  ];
}

const ENTRY_TYPES = ["verification_requested", "verification_answered", "verification_decided"];

/** The timeline entries the review was read from: a request, then its answer and its decision. */
function steps(review) {
  return (review.history || []).reduce((n, v) => n + 1 + (v.answered_at ? 1 : 0) + (v.decided_at ? 1 : 0), 0);
}

function verificationEntries(order) {
  return (order.timeline || []).filter((e) => ENTRY_TYPES.includes(e.type)).length;
}

// The card, filled once its data is read (the order page does not wait for it). The review is
// read after the order: when the buyer answered (or someone decided) in between, the review is
// ahead of the timeline beside it, so the whole order is read again and both show the same moment.
export function verificationCard(ctx, order, reload) {
  const holder = h("div", {}, loading());
  const shown = order.hold || (order.timeline || []).some((e) => e.type === "verification_requested");
  if (!shown) return null;
  ctx.api.get(`/admin/orders/${pathPart(order.order_no)}/verification`).then((review) => {
    if (!ctx.alive()) return;
    if (steps(review) > verificationEntries(order)) reload(false);
    else mount(holder, body(ctx, review, order, reload));
  }).catch((error) => {
    if (ctx.alive()) mount(holder, errorBox(error));
  });
  return card(w("title"), holder, { id: "verification", subtitle: w("sub") });
}
