// Export: kind, format and the current filters; progress while the file is written; then the link
// (an S3 link valid 15 minutes, re-issued on demand).
import * as data from "./data.js";
import { pathPart } from "./api.js";
import { h, icon, mount, toast } from "./dom.js";
import * as F from "./filters.js";
import { addDays, clock, dateTime, integer, shopDate, shopTimeToIso } from "./fmt.js";
import { colon, lang, t } from "./i18n.js";
import { card, channelName, errorBox, segmented } from "./ui.js";

const KINDS = ["orders", "notifications", "anomalies", "reconciliation"];
const FORMATS = ["csv", "xlsx"];
const HISTORY = "paytrack.exports";
const POLL_MS = 1500;

function history() {
  try { return JSON.parse(sessionStorage.getItem(HISTORY) || "[]"); } catch { return []; }
}
function remember(item) {
  const list = [item, ...history().filter((x) => x.export_id !== item.export_id)].slice(0, 10);
  sessionStorage.setItem(HISTORY, JSON.stringify(list));
}

export async function render(ctx) {
  ctx.setTitle(t("nav.export"));
  const params = ctx.params;
  const state = {
    kind: KINDS.includes(params.get("kind")) ? params.get("kind") : "orders",
    format: FORMATS.includes(params.get("format")) ? params.get("format") : "csv",
  };
  const orderFilter = F.fromParams(params);
  const kindBox = h("div");
  const formatBox = h("div");
  const filterBox = h("div", { class: "export-filters" });
  const progress = h("div", { class: "export-progress", "aria-live": "polite" });
  const historyBox = h("div");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-lg", "data-action": "start-export" }, icon("download"), t("export.start"));
  const inputs = {};

  const drawKind = () => mount(kindBox, segmented(t("export.kind"), KINDS.map((k) => [k, t(`export.kind_${k}`)]), state.kind,
    (k) => { state.kind = k; drawKind(); drawFilters(); }));
  const drawFormat = () => mount(formatBox, segmented(t("export.format"), FORMATS.map((f) => [f, t(`export.format_${f}`)]), state.format,
    (f) => { state.format = f; drawFormat(); }));

  const dateRange = (days = 7) => {
    inputs.from = h("input", { type: "date", class: "input", id: "export-from", value: addDays(shopDate(), -(days - 1)), max: shopDate() });
    inputs.to = h("input", { type: "date", class: "input", id: "export-to", value: shopDate(), max: shopDate() });
    return h("div", { class: "filter-group" }, h("span", { class: "filter-label" }, t("export.period")),
      h("div", { class: "custom-range" }, inputs.from, h("span", { class: "muted" }, "—"), inputs.to));
  };
  const channelPicker = () => {
    inputs.channel = h("select", { class: "input", id: "export-channel" }, h("option", { value: "" }, t("common.all")));
    data.channels(ctx.api).then((list) => list.forEach((c) => inputs.channel.append(h("option", { value: c }, channelName(c)))))
      .catch((error) => toast(`${t("orders.channels_failed")} ${error.message}`, "error"));
    return h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.channel")), inputs.channel);
  };

  const drawFilters = () => {
    Object.keys(inputs).forEach((k) => delete inputs[k]);
    if (state.kind === "orders") {
      const chips = describe(orderFilter);
      mount(filterBox, 
        h("p", { class: "filter-label" }, t("export.current_filters")),
        h("div", { class: "chips", "data-export-filters": "" }, chips.length ? chips.map((c) => h("span", { class: "chip chip-static" }, c))
          : h("span", { class: "muted" }, t("export.no_filters"))),
        h("a", { href: F.hashOf(orderFilter), class: "btn btn-ghost btn-small" }, icon("orders"), t("export.change_filters")));
    } else if (state.kind === "notifications") {
      mount(filterBox, h("div", { class: "filter-row filter-grid" }, dateRange(), channelPicker()));
    } else if (state.kind === "anomalies") {
      inputs.status = h("select", { class: "input", id: "export-status" }, h("option", { value: "" }, t("common.all")),
        ["open", "acknowledged", "resolved"].map((s) => h("option", { value: s }, t(`anomaly_status.${s}`))));
      inputs.severity = h("select", { class: "input", id: "export-severity" }, h("option", { value: "" }, t("common.all")),
        ["critical", "warning", "info"].map((s) => h("option", { value: s }, t(`severity.${s}`))));
      mount(filterBox, h("div", { class: "filter-row filter-grid" }, dateRange(30),
        h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("anomalies.status")), inputs.status),
        h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("anomalies.severity")), inputs.severity)));
    } else {
      inputs.date = h("input", { type: "date", class: "input", id: "export-date", value: addDays(shopDate(), -1), max: shopDate() });
      mount(filterBox, h("div", { class: "filter-row filter-grid" }, channelPicker(),
        h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("rec.date")), inputs.date)));
    }
  };

  const body = () => {
    const out = { kind: state.kind, format: state.format, lang: lang() };
    if (state.kind === "orders") return { ...out, ...F.toExport(orderFilter) };
    if (inputs.from && inputs.from.value) out.from = shopTimeToIso(inputs.from.value);
    if (inputs.to && inputs.to.value) out.to = shopTimeToIso(addDays(inputs.to.value, 1));
    if (out.to && Date.parse(out.to) > Date.now()) delete out.to;
    ["channel", "status", "severity", "date"].forEach((k) => { if (inputs[k] && inputs[k].value) out[k] = inputs[k].value; });
    return out;
  };

  let pollTimer = 0;
  ctx.onCleanup(() => window.clearTimeout(pollTimer));
  const started = { at: 0 };

  const showExport = (view) => {
    if (view.status === "ready") {
      mount(progress, readyCard(ctx, view, showExport));
      submit.disabled = false;
    } else if (view.status === "failed") {
      mount(progress, errorBox({ code: "export_failed", message: view.error || "", status: null }, { title: t("export.failed") }));
      submit.disabled = false;
    } else {
      const seconds = Math.round((Date.now() - started.at) / 1000);
      mount(progress, h("div", { class: "progress-card", "data-export-status": "running" },
        h("p", {}, h("strong", {}, t("export.running")), " ", h("span", { class: "muted" }, t("export.elapsed", { s: seconds }))),
        h("div", { class: "progress", role: "progressbar", "aria-label": t("export.running") }, h("div", { class: "progress-bar" })),
        h("p", { class: "muted small" }, view.rows ? t("export.rows_so_far", { n: integer(view.rows) }) : t("export.large_hint"))));
      pollTimer = window.setTimeout(async () => {
        try {
          const next = await ctx.api.get(`/admin/exports/${pathPart(view.export_id)}`);
          if (ctx.alive()) showExport(next);
        } catch (error) {
          if (!ctx.alive()) return;
          mount(progress, errorBox(error, { retry: () => showExport(view) }));
          submit.disabled = false;
        }
      }, POLL_MS);
    }
    drawHistory();
  };

  const drawHistory = () => {
    const list = history();
    mount(historyBox, list.length ? card(t("export.history"), h("ul", { class: "mini-list" }, list.map((x) => h("li", {},
      h("span", { class: "badge badge-neutral" }, x.format.toUpperCase()),
      h("span", { class: "mini-main" }, t(`export.kind_${x.kind}`)),
      h("span", { class: "muted small" }, dateTime(x.created_at)),
      h("button", { type: "button", class: "btn btn-ghost btn-small push", onclick: async () => {
        try { showExport(await ctx.api.get(`/admin/exports/${pathPart(x.export_id)}`)); } catch (error) { mount(progress, errorBox(error)); }
      } }, icon("link"), t("export.fresh_link")))))) : null);
  };

  drawKind();
  drawFormat();
  drawFilters();
  drawHistory();
  mount(ctx.root,
    card(t("export.title"), h("form", {
      class: "export-form",
      onsubmit: async (event) => {
        event.preventDefault();
        window.clearTimeout(pollTimer);
        submit.disabled = true;
        started.at = Date.now();
        mount(progress, h("div", { class: "progress-card" }, h("p", {}, h("strong", {}, t("export.starting"))),
          h("div", { class: "progress", role: "progressbar", "aria-label": t("export.starting") }, h("div", { class: "progress-bar" }))));
        try {
          const { data: view } = await ctx.api.postWithStatus("/admin/exports", body());
          if (!ctx.alive()) return;
          remember({ export_id: view.export_id, kind: view.kind, format: view.format, created_at: view.created_at });
          showExport(view);
        } catch (error) {
          if (!ctx.alive()) return;
          mount(progress, errorBox(error));
          submit.disabled = false;
        }
      },
    },
    h("div", { class: "form-row" }, h("span", { class: "filter-label" }, t("export.kind")), kindBox),
    h("div", { class: "form-row" }, h("span", { class: "filter-label" }, t("export.format")), formatBox),
    filterBox,
    h("p", { class: "muted small" }, ctx.role === "admin" ? t("export.admin_note") : t("export.masked_note")),
    h("div", { class: "filter-actions" }, submit)), { subtitle: t("export.sub") }),
    progress,
    historyBox);
}

function readyCard(ctx, view, showExport) {
  const expires = view.expires_at ? clock(new Date(view.expires_at)) : "";
  return h("div", { class: "alert alert-success export-ready", "data-export-status": "ready" }, icon("check"),
    h("div", { class: "alert-body" },
      h("strong", {}, t("export.ready", { rows: integer(view.rows || 0) })),
      h("p", { class: "small" }, `${t(`export.kind_${view.kind}`)} · ${view.format.toUpperCase()}`,
        view.masked ? ` · ${t("export.masked")}` : ` · ${t("export.unmasked")}`),
      h("div", { class: "action-row" },
        h("a", { class: "btn btn-primary", href: view.url, target: "_blank", rel: "noopener noreferrer", "data-action": "download",
          download: `paytrack-${view.kind}.${view.format}` }, icon("download"), t("export.download")),
        h("button", { type: "button", class: "btn btn-ghost", onclick: async () => {
          try { showExport(await ctx.api.get(`/admin/exports/${pathPart(view.export_id)}`)); toast(t("export.link_renewed"), "success"); } catch (error) { toast(error.message, "error"); }
        } }, icon("refresh"), t("export.fresh_link"))),
      h("p", { class: "muted small" }, t("export.valid_until", { time: expires }))));
}

// The order filter in words, for the export screen.
function describe(f) {
  const out = [];
  out.push(`${f.by === "paid" ? t("orders.by_paid") : t("orders.by_created")}${colon()}${t(`range.${f.range}`)}`);
  if (f.range === "custom") out.push(`${f.from ? dateTime(f.from, { seconds: false }) : "…"} — ${f.to ? dateTime(f.to, { seconds: false }) : t("export.now")}`);
  if (f.status.length) out.push(`${t("orders.status")}${colon()}${f.status.map((s) => t(`pay.${s}`)).join(t("common.list_sep"))}`);
  if (f.delivery) out.push(`${t("orders.delivery")}${colon()}${t(`delivery.${f.delivery}`)}`);
  if (f.channel) out.push(`${t("orders.channel")}${colon()}${channelName(f.channel)}`);
  if (f.method) out.push(`${t("orders.method")}${colon()}${f.method}`);
  if (f.min_amount || f.max_amount) out.push(`${t("orders.amount")}${colon()}${f.min_amount || "0"} — ${f.max_amount || "∞"}`);
  if (f.flagged) out.push(f.flagged === "true" ? t("orders.flagged_yes") : t("orders.flagged_no"));
  if (f.q) {
    const field = f.qf !== "auto" ? f.qf : F.guessField(f.q);
    out.push(`${t(`keyword.${field}`)}${colon()}${f.q}`);
  }
  return out;
}

