// The anomaly inbox: open items first, by severity; acknowledge or resolve with a note; the orders
// each one is about are a click away.
import { pathPart } from "./api.js";
import { h, icon, mount, openDialog, toast } from "./dom.js";
import { ago } from "./fmt.js";
import { has, t } from "./i18n.js";
import { detailValue, expectedSeenLine, handlerText } from "./facts.js";
import { anomalyStatusBadge, channelName, emptyState, errorBox, loading, ruleName, segmented, severityBadge, time } from "./ui.js";

const TABS = ["open", "acknowledged", "resolved", "all"];
const SEVERITIES = ["critical", "warning", "info"];
const STATUS_ORDER = ["open", "acknowledged", "resolved"];
const RULES = ["amount_mismatch", "channel_mismatch", "currency_mismatch", "duplicate_payment", "late_payment", "unknown_order", "status_conflict",
  "ip_burst", "suspicious_email", "quick_refund", "large_amount", "slow_delivery", "channel_failure"];
const DAYS = ["7", "30", "90"];

export async function render(ctx) {
  ctx.setTitle(t("nav.anomalies"));
  const p = ctx.params;
  const view = {
    status: TABS.includes(p.get("status")) ? p.get("status") : "open",
    severity: SEVERITIES.includes(p.get("severity")) ? p.get("severity") : "",
    rule: p.get("rule") || "",
    days: DAYS.includes(p.get("days")) ? p.get("days") : "30",
    focus: p.get("focus") || "",
  };
  const hashFor = (next) => {
    const q = new URLSearchParams();
    if (next.status !== "open") q.set("status", next.status);
    if (next.severity) q.set("severity", next.severity);
    if (next.rule) q.set("rule", next.rule);
    if (next.days !== "30") q.set("days", next.days);
    return `#/anomalies${q.toString() ? `?${q}` : ""}`;
  };
  const change = (patch) => ctx.navigate(hashFor({ ...view, ...patch, focus: "" }));

  const list = h("div", { class: "inbox" }, loading());
  const more = h("div", { class: "more" });
  const severity = h("select", { class: "input", id: "severity", "aria-label": t("anomalies.severity"), onchange: (e) => change({ severity: e.target.value }) },
    h("option", { value: "" }, t("anomalies.all_severities")),
    SEVERITIES.map((s) => h("option", { value: s, selected: s === view.severity }, t(`severity.${s}`))));
  const rule = h("select", { class: "input", id: "rule", "aria-label": t("anomalies.rule"), onchange: (e) => change({ rule: e.target.value }) },
    h("option", { value: "" }, t("anomalies.all_rules")),
    RULES.map((r) => h("option", { value: r, selected: r === view.rule }, ruleName(r))));
  const days = h("select", { class: "input", id: "days", "aria-label": t("anomalies.period"), onchange: (e) => change({ days: e.target.value }) },
    DAYS.map((d) => h("option", { value: d, selected: d === view.days }, t("anomalies.last_days", { n: d }))));

  mount(ctx.root,
    h("div", { class: "toolbar" },
      segmented(t("anomalies.status"), TABS.map((s) => [s, t(`anomaly_tab.${s}`)]), view.status, (s) => change({ status: s })),
      h("div", { class: "toolbar-right" }, severity, rule, days)),
    list, more);

  const items = [];
  let cursor = null;
  const params = () => {
    const out = { limit: 200, from: new Date(Date.now() - Number(view.days) * 86400000).toISOString().replace(/\.\d{3}Z$/, "Z") };
    if (view.status !== "all") out.status = view.status;
    if (view.severity) out.severity = view.severity;
    if (view.rule) out.rule = view.rule;
    return out;
  };
  const load = async (append) => {
    if (!append) mount(list, loading());
    more.replaceChildren();
    try {
      const data = await ctx.api.get("/admin/anomalies", { ...params(), cursor: append ? cursor : undefined });
      if (!ctx.alive()) return;
      items.push(...(data.items || []));
      cursor = data.next_cursor;
      if (view.status === "open" && !view.severity && !view.rule && view.days === "30") {
        window.dispatchEvent(new CustomEvent("paytrack:open-anomalies", { detail: { count: items.length, more: Boolean(cursor) } }));
      }
      draw();
    } catch (error) {
      if (!ctx.alive()) return;
      mount(append ? more : list, errorBox(error, { retry: () => load(append) }));
    }
  };
  const draw = () => {
    const sorted = items.slice().sort((a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status)
      || SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)
      || (b.created_at || "").localeCompare(a.created_at || ""));
    if (!sorted.length) {
      mount(list, emptyState(view.status === "open" ? t("anomalies.none_open") : t("anomalies.none"), t("anomalies.none_hint")));
    } else {
      const counts = SEVERITIES.map((s) => [s, sorted.filter((a) => a.severity === s).length]).filter(([, n]) => n);
      mount(list, 
        h("p", { class: "muted small summary-line" }, t("anomalies.count", { n: sorted.length }), " · ",
          counts.map(([s, n]) => `${t(`severity.${s}`)} ${n}`).join(" · ")),
        h("ul", { class: "inbox-list" }, sorted.map((a) => item(ctx, a, view.focus === a.id, () => { items.length = 0; cursor = null; load(false); }))));
    }
    if (cursor) {
      mount(more, h("button", { type: "button", class: "btn btn-secondary", "data-action": "more", onclick: () => load(true) }, t("anomalies.more")));
    }
    const focused = view.focus && list.querySelector(".inbox-focus");
    if (focused) focused.scrollIntoView({ block: "center" });
  };
  await load(false);
}

function item(ctx, a, focused, reload) {
  return h("li", { class: ["inbox-item", `inbox-${a.severity}`, `inbox-status-${a.status}`, focused && "inbox-focus"], "data-anomaly": a.id, title: a.id },
    h("div", { class: "inbox-head" },
      severityBadge(a.severity),
      h("strong", { class: "inbox-rule" }, ruleName(a.rule)),
      anomalyStatusBadge(a.status),
      h("span", { class: "muted small push", title: a.created_at }, ago(a.created_at), " · ", time(a.created_at))),
    h("div", { class: "inbox-meta" },
      a.order_no ? h("a", { href: `#/orders/${pathPart(a.order_no)}`, class: "inbox-order", "data-order-link": a.order_no },
        icon("orders"), t("anomalies.order"), " ", h("span", { class: "mono" }, a.order_no)) : null,
      a.channel ? h("span", { class: "muted" }, channelName(a.channel)) : null),
    details(a),
    a.note || a.updated_by ? h("p", { class: "inbox-note" }, icon("shield"),
      t(`anomaly_status.${a.status}`), " · ", handlerText(a),
      a.updated_at ? ` · ${ago(a.updated_at)}` : "", a.note ? h("span", { class: "note-text typed" }, `「${a.note}」`) : null) : null,
    ctx.canAct ? anomalyActions(ctx, a, reload) : null);
}

// Detail keys that only repeat what the card already says.
const QUIET = new Set(["expected", "seen", "orders", "n", "line", "result", "currency", "ledger_currency", "order_no", "out_trade_no",
  "message", "notice"]);

function details(a) {
  const d = a.details || {};
  const entries = Object.entries(d);
  if (!entries.length) return null;
  const orders = Array.isArray(d.orders) ? d.orders : null;
  const pairs = entries.filter(([k, v]) => !QUIET.has(k) && v !== null && v !== "").slice(0, 8);
  return h("div", { class: "inbox-details" },
    expectedSeenLine(a) || (d.expected !== undefined || d.seen !== undefined ? h("p", { class: "expect" },
      h("span", { class: "muted" }, t("anomalies.expected")), " ", h("strong", {}, detailValue("expected", d.expected)), "  ",
      h("span", { class: "muted" }, t("anomalies.seen")), " ", h("strong", { class: "text-danger" }, detailValue("seen", d.seen))) : null),
    pairs.length ? h("dl", { class: "kv" }, pairs.map(([k, v]) =>
      h("div", {}, h("dt", {}, has(`dk.${k}`) ? t(`dk.${k}`) : k),
        h("dd", { class: /(^|_)(no|id|ref)$|^(ip|email|emails|buyer_ids|gateway_status)$/.test(k) ? "mono" : null }, detailValue(k, v, d, a.facts || {}))))) : null,
    orders ? h("p", { class: "linked" }, h("span", { class: "muted" }, t("anomalies.linked")), " ",
      orders.map((no) => h("a", { href: `#/orders/${pathPart(no)}`, class: "mono chip chip-link" }, no))) : null);
}

// Acknowledge / resolve buttons with a note dialog; shared with the order detail.
export function anomalyActions(ctx, a, onDone) {
  if (a.status === "resolved") return null;
  const run = async (target) => {
    const result = await openDialog(t(`anomalies.${target}_title`), (close) => {
      const note = h("textarea", { class: "input", id: "anomaly-note", rows: 3, maxlength: 1000, required: true, placeholder: t("anomalies.note_placeholder") });
      const problem = h("div", { "aria-live": "assertive" });
      const submit = h("button", { type: "submit", class: "btn btn-primary primary", "data-action": "confirm" }, t(`anomalies.${target}`));
      return h("form", {
        class: "dialog-form", novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          problem.replaceChildren();
          if (!note.value.trim()) { problem.append(h("p", { class: "text-danger", role: "alert" }, t("anomalies.note_required"))); note.focus(); return; }
          submit.disabled = true;
          try {
            close(await ctx.api.post(`/admin/anomalies/${pathPart(a.id)}`, { status: target, note: note.value.trim() }));
          } catch (error) {
            problem.append(errorBox(error));
            submit.disabled = false;
          }
        },
      },
      h("p", { class: "muted" }, `${ruleName(a.rule)} · ${a.order_no || a.channel || a.id}`),
      h("label", { class: "label", for: "anomaly-note" }, t("anomalies.note"), h("span", { class: "required" }, " *")), note, problem,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, t("action.cancel")), submit));
    });
    if (!result) return;
    toast(t(`anomalies.${target}_done`), "success");
    onDone(result);
  };
  return h("div", { class: "inbox-actions" },
    a.status === "open" ? h("button", { type: "button", class: "btn btn-secondary btn-small", "data-action": "acknowledged", onclick: () => run("acknowledged") }, icon("check"), t("anomalies.acknowledged")) : null,
    h("button", { type: "button", class: "btn btn-primary btn-small", "data-action": "resolved", onclick: () => run("resolved") }, t("anomalies.resolved")));
}
