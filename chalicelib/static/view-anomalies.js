// The anomaly inbox, like a review queue: a compact table grouped by rule with counts, open items
// first, filters, multi-select and bulk acknowledge/resolve with one note (one audited request per
// anomaly); the orders each one is about are a click away.
import { pathPart } from "./api.js";
import { h, icon, mount, openDialog, toast } from "./dom.js";
import { ago } from "./fmt.js";
import { has, t } from "./i18n.js";
import { detailValue, expectedSeenLine, handlerText } from "./facts.js";
import { anomalyStatusBadge, channelName, emptyState, errorBox, loading, ruleName, segmented, severityBadge } from "./ui.js";
import { inboxRules } from "./meta.js";

const TABS = ["open", "acknowledged", "resolved", "all"];
const SEVERITIES = ["critical", "warning", "info"];
const STATUS_ORDER = ["open", "acknowledged", "resolved"];
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
    inboxRules().map((r) => h("option", { value: r, selected: r === view.rule }, ruleName(r))));
  const days = h("select", { class: "input", id: "days", "aria-label": t("anomalies.period"), onchange: (e) => change({ days: e.target.value }) },
    DAYS.map((d) => h("option", { value: d, selected: d === view.days }, t("anomalies.last_days", { n: d }))));

  const selected = new Set();
  const bulkBar = h("div", { class: "bulk-bar", "aria-live": "polite" });
  mount(ctx.root,
    h("div", { class: "toolbar" },
      segmented(t("anomalies.status"), TABS.map((s) => [s, t(`anomaly_tab.${s}`)]), view.status, (s) => change({ status: s })),
      h("div", { class: "toolbar-right" }, severity, rule, days)),
    ctx.canAct ? bulkBar : null, list, more);

  const items = [];
  let cursor = null;
  const params = () => {
    const out = { limit: 200, from: new Date(Date.now() - Number(view.days) * 86400000).toISOString().replace(/\.\d{3}Z$/, "Z") };
    if (view.status !== "all") out.status = view.status;
    if (view.severity) out.severity = view.severity;
    if (view.rule) out.rule = view.rule;
    return out;
  };
  const reload = () => { items.length = 0; cursor = null; selected.clear(); load(false); };
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
  const drawBulk = () => {
    const open = items.filter((a) => selected.has(a.id));
    mount(bulkBar,
      h("span", { class: "muted small", "data-selected": String(open.length) }, t("anomalies.selected", { n: open.length })),
      h("button", { type: "button", class: "btn btn-secondary btn-small", "data-action": "bulk-acknowledged",
        disabled: !open.some((a) => a.status === "open"), onclick: () => bulk(ctx, open, "acknowledged", reload) }, icon("check"), t("anomalies.bulk_acknowledged")),
      h("button", { type: "button", class: "btn btn-primary btn-small", "data-action": "bulk-resolved",
        disabled: !open.some((a) => a.status !== "resolved"), onclick: () => bulk(ctx, open, "resolved", reload) }, t("anomalies.bulk_resolved")));
  };
  const toggle = (ids, on) => {
    ids.forEach((id) => (on ? selected.add(id) : selected.delete(id)));
    list.querySelectorAll("input[data-select]").forEach((box) => { box.checked = selected.has(box.dataset.select); });
    list.querySelectorAll("input[data-select-group]").forEach((box) => {
      const group = items.filter((a) => a.rule === box.dataset.selectGroup && a.status !== "resolved");
      box.checked = group.length > 0 && group.every((a) => selected.has(a.id));
    });
    drawBulk();
  };
  const draw = () => {
    const sorted = items.slice().sort((a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status)
      || SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)
      || (b.created_at || "").localeCompare(a.created_at || ""));
    drawBulk();
    if (!sorted.length) {
      mount(list, emptyState(view.status === "open" ? t("anomalies.none_open") : t("anomalies.none"), t("anomalies.none_hint")));
    } else {
      const counts = SEVERITIES.map((s) => [s, sorted.filter((a) => a.severity === s).length]).filter(([, n]) => n);
      mount(list,
        h("p", { class: "muted small summary-line" }, t("anomalies.count", { n: sorted.length }), " · ",
          counts.map(([s, n]) => `${t(`severity.${s}`)} ${n}`).join(" · ")),
        inboxTable(ctx, groupByRule(sorted), view.focus, toggle, reload));
    }
    if (cursor) {
      mount(more, h("button", { type: "button", class: "btn btn-secondary", "data-action": "more", onclick: () => load(true) }, t("anomalies.more")));
    }
    const focused = view.focus && list.querySelector(".inbox-focus");
    if (focused) focused.scrollIntoView({ block: "center" });
  };
  await load(false);
}

// Rules with the most severe, then the most items first; items keep their order within a rule.
function groupByRule(sorted) {
  const groups = new Map();
  sorted.forEach((a) => { if (!groups.has(a.rule)) groups.set(a.rule, []); groups.get(a.rule).push(a); });
  const worst = (list) => Math.min(...list.map((a) => SEVERITIES.indexOf(a.severity)));
  return [...groups.entries()].sort(([, x], [, y]) => worst(x) - worst(y) || y.length - x.length);
}

// One compact table, a header row per rule with its count, a row per anomaly; its details open
// below the row.
function inboxTable(ctx, groups, focus, toggle, reload) {
  const columns = ["subject", "expect", "status", "created", "handled"];
  return h("div", { class: "table-wrap card card-flush" }, h("table", { class: "table table-inbox" },
    h("thead", {}, h("tr", {}, ctx.canAct ? h("th", { scope: "col", class: "cell-check" }, h("span", { class: "sr-only" }, t("anomalies.select"))) : null,
      columns.map((c) => h("th", { scope: "col" }, t(`acol.${c}`))), ctx.canAct ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("order.actions"))) : null)),
    groups.map(([rule, list]) => h("tbody", { class: "inbox-group", "data-rule": rule },
      h("tr", { class: "group-row" },
        h("th", { scope: "rowgroup", colspan: columns.length + (ctx.canAct ? 2 : 0) },
          ctx.canAct ? h("input", { type: "checkbox", "data-select-group": rule, "aria-label": t("anomalies.select_group", { rule: ruleName(rule) }),
            onchange: (e) => toggle(list.filter((a) => a.status !== "resolved").map((a) => a.id), e.target.checked) }) : null,
          severityBadge(list[0].severity), h("strong", { class: "group-rule" }, ruleName(rule)),
          h("span", { class: "group-count", "data-count": String(list.length) }, t("anomalies.group_count", { n: list.length })))),
      list.map((a) => row(ctx, a, focus === a.id, toggle, reload))))));
}

function row(ctx, a, focused, toggle, reload) {
  const detail = details(a);
  return h("tr", { class: ["inbox-item", `inbox-${a.severity}`, `inbox-status-${a.status}`, focused && "inbox-focus"], "data-anomaly": a.id, title: a.id },
    ctx.canAct ? h("td", { class: "cell-check" }, a.status === "resolved" ? null
      : h("input", { type: "checkbox", "data-select": a.id, "aria-label": t("anomalies.select_one", { id: a.id }),
        onchange: (e) => toggle([a.id], e.target.checked) })) : null,
    h("td", { "data-label": t("acol.subject") },
      a.order_no ? h("a", { href: `#/orders/${pathPart(a.order_no)}`, class: "inbox-order mono", "data-order-link": a.order_no }, a.order_no)
        : h("span", {}, a.channel ? channelName(a.channel) : h("span", { class: "mono small" }, a.id)),
      a.order_no && a.channel ? h("div", { class: "muted small" }, channelName(a.channel)) : null),
    h("td", { "data-label": t("acol.expect"), class: "cell-expect" }, expectation(a),
      detail ? h("details", { class: "inbox-more" }, h("summary", {}, t("anomalies.details")), detail) : null),
    h("td", { "data-label": t("acol.status") }, anomalyStatusBadge(a.status)),
    h("td", { "data-label": t("acol.created"), class: "nowrap" }, h("span", { title: a.created_at }, ago(a.created_at))),
    h("td", { "data-label": t("acol.handled"), class: "cell-handled" }, a.note || a.updated_by ? h("span", { class: "inbox-note" },
      handlerText(a), a.note ? h("span", { class: "note-text typed" }, `「${a.note}」`) : null) : h("span", { class: "muted" }, "—")),
    ctx.canAct ? h("td", { class: "cell-actions" }, anomalyActions(ctx, a, reload)) : null);
}

// Acknowledge or resolve every selected anomaly with one note: one audited request per anomaly.
async function bulk(ctx, list, target, reload) {
  const todo = list.filter((a) => (target === "acknowledged" ? a.status === "open" : a.status !== "resolved"));
  if (!todo.length) return;
  const result = await openDialog(t(`anomalies.bulk_${target}_title`, { n: todo.length }), (close) => {
    const note = h("textarea", { class: "input", id: "bulk-note", rows: 3, maxlength: 1000, required: true, placeholder: t("anomalies.note_placeholder") });
    const problem = h("div", { "aria-live": "assertive" });
    const submit = h("button", { type: "submit", class: "btn btn-primary primary", "data-action": "confirm" }, t(`anomalies.${target}`));
    return h("form", {
      class: "dialog-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        problem.replaceChildren();
        if (!note.value.trim()) { problem.append(h("p", { class: "text-danger", role: "alert" }, t("anomalies.note_required"))); note.focus(); return; }
        submit.disabled = true;
        const failed = [];
        for (const [i, a] of todo.entries()) {
          submit.textContent = t("anomalies.bulk_progress", { i: i + 1, n: todo.length });
          try {
            await ctx.api.post(`/admin/anomalies/${pathPart(a.id)}`, { status: target, note: note.value.trim() });
          } catch (error) {
            failed.push([a, error]);
          }
        }
        if (!failed.length) { close({ done: todo.length }); return; }
        submit.disabled = false;
        submit.textContent = t(`anomalies.${target}`);
        problem.append(h("p", { class: "text-danger", role: "alert" }, t("anomalies.bulk_failed", { n: failed.length })),
          h("ul", { class: "small" }, failed.map(([a, error]) => h("li", {}, h("span", { class: "mono" }, a.id), " ", errorBox(error)))));
      },
    },
    h("p", { class: "muted" }, t("anomalies.bulk_explain", { n: todo.length })),
    h("label", { class: "label", for: "bulk-note" }, t("anomalies.note"), h("span", { class: "required" }, " *")), note, problem,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, t("action.cancel")), submit));
  });
  if (result) toast(t("anomalies.bulk_done", { n: result.done }), "success");
  reload();
}

// Detail keys that only repeat what the card already says.
const QUIET = new Set(["expected", "seen", "orders", "n", "line", "result", "currency", "ledger_currency", "order_no", "out_trade_no",
  "message", "notice"]);

// Expected and seen in words from the facts, else the details' own values.
function expectation(a) {
  const d = a.details || {};
  const f = a.facts || {};
  if (f.note_code) return h("p", { class: "expect" }, detailValue("note", d.note, d, f));
  return expectedSeenLine(a) || (d.expected !== undefined || d.seen !== undefined ? h("p", { class: "expect" },
    h("span", { class: "muted" }, t("anomalies.expected")), " ", h("strong", {}, detailValue("expected", d.expected)), "  ",
    h("span", { class: "muted" }, t("anomalies.seen")), " ", h("strong", { class: "text-danger" }, detailValue("seen", d.seen))) : null);
}

function details(a) {
  const d = a.details || {};
  const orders = Array.isArray(d.orders) ? d.orders : null;
  const pairs = Object.entries(d).filter(([k, v]) => !QUIET.has(k) && v !== null && v !== "").slice(0, 8);
  if (!pairs.length && !orders) return null;
  return h("div", { class: "inbox-details" },
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
