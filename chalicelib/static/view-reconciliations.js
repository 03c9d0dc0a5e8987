// Reconciliation: runs per channel and day, each run's summary and its lines by result, and
// "run now" for one channel (POST /admin/reconciliations) or every channel (POST /admin/jobs/reconcile).
import * as data from "./data.js";
import { pathPart } from "./api.js";
import { h, icon, mount, toast } from "./dom.js";
import { addDays, dateTime, integer, money, shopDate } from "./fmt.js";
import { colon, t } from "./i18n.js";
import { badge, card, channelName, emptyState, errorBox, loading, segmented, time } from "./ui.js";

const RESULTS = ["matched", "amount_mismatch", "status_mismatch", "missing_here", "missing_there", "duplicate"];
const RESULT_TONES = { matched: "success", amount_mismatch: "danger", status_mismatch: "warning", missing_here: "danger",
  missing_there: "warning", duplicate: "danger" };

export async function render(ctx) {
  if (ctx.parts[1]) return renderRun(ctx, ctx.parts[1]);
  ctx.setTitle(t("nav.reconciliations"));
  const channel = ctx.params.get("channel") || "";
  const date = ctx.params.get("date") || "";
  const channelSelect = h("select", { class: "input", id: "rec-channel", "aria-label": t("rec.channel") },
    h("option", { value: "" }, t("common.all")));
  const runChannel = h("select", { class: "input", id: "run-channel", "aria-label": t("rec.channel") },
    h("option", { value: "" }, t("rec.all_channels")));
  data.channels(ctx.api).then((list) => {
    if (!ctx.alive()) return;
    list.forEach((c) => {
      channelSelect.append(h("option", { value: c, selected: c === channel }, channelName(c)));
      runChannel.append(h("option", { value: c }, channelName(c)));
    });
  }).catch((error) => toast(`${t("orders.channels_failed")} ${error.message}`, "error"));
  const dateInput = h("input", { type: "date", class: "input", id: "rec-date", value: date, max: shopDate(), "aria-label": t("rec.date") });
  const runDate = h("input", { type: "date", class: "input", id: "run-date", value: addDays(shopDate(), -1), max: shopDate(), "aria-label": t("rec.date") });
  const runResult = h("div", { class: "run-result", "aria-live": "polite" });
  const runButton = h("button", { type: "submit", class: "btn btn-primary", "data-action": "run-now" }, icon("refresh"), t("rec.run_now"));
  const list = h("div", {}, loading());

  const runForm = ctx.canAct ? card(t("rec.run_title"), h("form", {
    class: "inline-form",
    onsubmit: async (event) => {
      event.preventDefault();
      mount(runResult, loading(t("rec.running")));
      runButton.disabled = true;
      try {
        if (runChannel.value) {
          const run = await ctx.api.post("/admin/reconciliations", { channel: runChannel.value, date: runDate.value });
          mount(runResult, h("div", { class: "alert alert-success" }, icon("check"), h("div", { class: "alert-body" },
            h("strong", {}, t("rec.run_done", { channel: channelName(run.channel), date: run.date })),
            h("p", {}, countsText(run.summary)), h("a", { href: `#/reconciliations/${pathPart(run.id)}` }, t("rec.open_run")))));
        } else {
          const job = await ctx.api.post("/admin/jobs/reconcile", { date: runDate.value });
          const rows = Object.entries(job.channels || {});
          mount(runResult, h("div", { class: ["alert", (job.failed || []).length ? "alert-warning" : "alert-success"] }, icon("check"),
            h("div", { class: "alert-body" }, h("strong", {}, t("rec.job_done", { date: job.date })),
              h("ul", {}, rows.map(([c, r]) => h("li", {}, `${channelName(c)}${colon()}`,
                r.status === "failed" ? h("span", { class: "text-danger" }, `${t("rec.status.failed")} — ${r.message || r.error}`) : countsText(r)))))));
        }
        loadList();
      } catch (error) {
        mount(runResult, errorBox(error));
      } finally {
        runButton.disabled = false;
      }
    },
  }, h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("rec.channel")), runChannel),
  h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("rec.date")), runDate), runButton), { subtitle: t("rec.run_sub") }) : null;

  mount(ctx.root,
    h("form", {
      class: "toolbar",
      onsubmit: (event) => {
        event.preventDefault();
        const q = new URLSearchParams();
        if (channelSelect.value) q.set("channel", channelSelect.value);
        if (dateInput.value) q.set("date", dateInput.value);
        ctx.navigate(`#/reconciliations${q.toString() ? `?${q}` : ""}`);
      },
    }, h("div", { class: "toolbar-left" }, channelSelect, dateInput,
      h("button", { type: "submit", class: "btn btn-secondary" }, icon("search"), t("action.search"))),
    h("p", { class: "muted small" }, channel || date ? "" : t("rec.default_period"))),
    runForm, runResult, list);

  async function loadList() {
    try {
      const result = await ctx.api.get("/admin/reconciliations", { channel: channel || undefined, date: date || undefined });
      if (!ctx.alive()) return;
      const runs = (result.items || []).slice().sort((a, b) => b.date.localeCompare(a.date) || a.channel.localeCompare(b.channel));
      if (!runs.length) { mount(list, card(null, emptyState(t("rec.none"), ctx.canAct ? t("rec.none_hint") : null))); return; }
      mount(list, card(t("rec.runs"), h("div", { class: "table-wrap" }, h("table", { class: "table" },
        h("thead", {}, h("tr", {}, [t("rec.date"), t("rec.channel"), t("rec.status_col"), t("rec.balanced"),
          ...RESULTS.map((r) => t(`result.${r}`)), t("rec.ran_at")].map((x, i) => h("th", { scope: "col", class: i >= 4 && i < 10 ? "num" : null }, x)))),
        h("tbody", {}, runs.map((run) => {
          const counts = (run.summary && run.summary.counts) || {};
          return h("tr", { "data-run": run.id, onclick: (e) => { if (!e.target.closest("a")) ctx.navigate(`#/reconciliations/${pathPart(run.id)}`); } },
            h("td", { "data-label": t("rec.date") }, h("a", { href: `#/reconciliations/${pathPart(run.id)}`, class: "strong" }, run.date)),
            h("td", { "data-label": t("rec.channel") }, channelName(run.channel)),
            h("td", { "data-label": t("rec.status_col") }, statusBadge(run.status)),
            h("td", { "data-label": t("rec.balanced") }, balancedBadge(run)),
            RESULTS.map((r) => h("td", { class: ["num", r !== "matched" && counts[r] ? "text-danger strong" : null], "data-label": t(`result.${r}`) },
              counts[r] === undefined ? "—" : integer(counts[r]))),
            h("td", { "data-label": t("rec.ran_at") }, time(run.ran_at)));
        })))), { cls: "card-flush" }));
    } catch (error) {
      if (!ctx.alive()) return;
      mount(list, errorBox(error, { retry: loadList }));
    }
  }
  await loadList();
}

function statusBadge(status) {
  const tone = { done: "success", fees_pending: "info", failed: "danger" }[status] || "neutral";
  return badge(t(`rec.status.${status}`), tone);
}

function balancedBadge(run) {
  if (!run.summary) return run.error ? h("span", { class: "text-danger small" }, run.error.message || run.error.code) : "—";
  return run.summary.balanced ? badge(t("rec.yes_balanced"), "success") : badge(t("rec.not_balanced"), "danger");
}

function countsText(summaryOrJob) {
  const counts = (summaryOrJob && summaryOrJob.counts) || {};
  return RESULTS.filter((r) => counts[r]).map((r) => `${t(`result.${r}`)} ${counts[r]}`).join(" · ") || t("rec.no_lines");
}

async function renderRun(ctx, id) {
  ctx.setTitle(`${t("rec.run")} ${id}`);
  const back = h("div", { class: "crumbs" }, h("a", { href: "#/reconciliations", class: "btn btn-ghost btn-small" }, icon("back"), t("rec.back")));
  mount(ctx.root, back, loading());
  let run;
  try {
    run = await ctx.api.get(`/admin/reconciliations/${pathPart(id)}`);
  } catch (error) {
    if (!ctx.alive()) return;
    mount(ctx.root, back, errorBox(error, { retry: () => renderRun(ctx, id) }));
    return;
  }
  if (!ctx.alive()) return;
  const summary = run.summary || {};
  const counts = summary.counts || {};
  const linesBox = h("div");
  const lines = run.lines || {};
  const withLines = RESULTS.filter((r) => (lines[r] || []).length);
  let current = withLines[0] || "matched";
  const drawLines = () => mount(linesBox, 
    withLines.length > 1 ? segmented(t("rec.lines"), withLines.map((r) => [r, `${t(`result.${r}`)} ${lines[r].length}`]), current,
      (r) => { current = r; drawLines(); }) : null,
    withLines.length ? lineTable(lines[current] || []) : emptyState(t("rec.all_matched")));
  drawLines();

  mount(ctx.root, back,
    h("section", { class: "card order-head" },
      h("div", { class: "order-head-main" },
        h("h2", { class: "order-product" }, `${channelName(run.channel)} · ${run.date}`),
        h("div", { class: "badges" }, statusBadge(run.status), balancedBadge(run),
          h("span", { class: "muted small" }, t("rec.ran_line", { at: dateTime(run.ran_at), lines: integer(summary.statement_lines || 0) })))),
      run.report && run.report.url ? h("a", { class: "btn btn-secondary", href: run.report.url, target: "_blank", rel: "noopener", "data-action": "report" },
        icon("download"), t("rec.report")) : null),
    run.error ? errorBox(run.error, { title: t("rec.failed_title") }) : null,
    h("div", { class: "kpis kpis-6" }, RESULTS.map((r) => h("div", { class: ["kpi", r !== "matched" && counts[r] ? `kpi-${RESULT_TONES[r]}` : null] },
      h("div", { class: "kpi-label" }, t(`result.${r}`)), h("div", { class: "kpi-value", "data-count": r }, integer(counts[r] || 0))))),
    Object.entries(summary.currencies || {}).map(([currency, c]) => card(t("rec.money_title", { currency }), moneyTable(currency, c))),
    card(t("rec.lines"), linesBox, { subtitle: t("rec.lines_sub") }),
    (run.history || []).length ? card(t("rec.history"), h("ul", { class: "mini-list" }, run.history.slice().reverse().map((x) => h("li", {},
      time(x.at), h("span", { class: "mini-main" }, x.error ? h("span", { class: "text-danger" }, x.error.message) : countsText(x)),
      h("span", { class: "muted small push" }, x.actor))))) : null);
}

function moneyTable(currency, c) {
  const m = (v) => h("span", { class: "money" }, money(v, currency));
  const row = (label, statement, ledger, strong) => h("tr", { class: strong ? "strong" : null },
    h("th", { scope: "row" }, label), h("td", { class: "num" }, statement === null ? "—" : m(statement)), h("td", { class: "num" }, ledger === null ? "—" : m(ledger)));
  return h("div", { class: "grid grid-2" },
    h("div", { class: "table-wrap" }, h("table", { class: "table table-compact" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", { class: "num" }, t("rec.statement")), h("th", { class: "num" }, t("rec.ledger")))),
      h("tbody", {},
        row(t("rec.gross"), c.statement.gross, c.ledger.gross),
        row(t("rec.refunds"), c.statement.refunds, c.ledger.refunds),
        c.statement.converted_lines ? row(t("rec.settled"), c.statement.settled, null) : null,
        row(t("rec.fees"), c.statement.fees, null),
        row(t("rec.net"), c.statement.net, c.ledger.net, true),
        c.statement.account_fees && !/^-?0(\.0+)?$/.test(c.statement.account_fees) ? row(t("rec.account_fees"), c.statement.account_fees, null) : null))),
    h("div", { class: "diff-box" },
      h("div", {}, h("span", { class: "muted" }, t("rec.difference")), h("strong", { class: "amount-big money" }, money(c.difference, currency))),
      h("ul", { class: "mini-list" }, Object.entries(c.explained || {}).filter(([, v]) => !/^-?0(\.0+)?$/.test(v)).map(([r, v]) =>
        h("li", {}, badge(t(`result.${r}`), RESULT_TONES[r]), h("span", { class: "money push" }, money(v, currency))))),
      h("p", { class: /^-?0(\.0+)?$/.test(c.unexplained) ? "text-success" : "text-danger strong" },
        t("rec.unexplained"), " ", money(c.unexplained, currency))));
}

function lineTable(lines) {
  const zero = (v) => !v || /^-?0(\.0+)?$/.test(v);
  return h("div", { class: "table-wrap" }, h("table", { class: "table table-lines" },
    h("thead", {}, h("tr", {}, ["n", "result", "order_no", "statement", "ledger", "difference", "fee", "at", "note"]
      .map((k) => h("th", { scope: "col", class: ["statement", "ledger", "difference", "fee"].includes(k) ? "num" : null }, t(`lcol.${k}`))))),
    h("tbody", {}, lines.map((l) => h("tr", { "data-line": l.n },
      h("td", { "data-label": "#" }, String(l.n)),
      h("td", { "data-label": t("lcol.result") }, badge(t(`result.${l.result}`), RESULT_TONES[l.result] || "neutral"),
        h("div", { class: "muted small" }, l.kind)),
      h("td", { "data-label": t("lcol.order_no") },
        l.order_no ? h("a", { class: "mono small", href: `#/orders/${pathPart(l.order_no)}` }, l.order_no) : h("span", { class: "mono small" }, l.out_trade_no || "—"),
        h("div", { class: "mono small muted" }, l.trade_no || "")),
      h("td", { class: "num", "data-label": t("lcol.statement") }, h("span", { class: "money" }, money(l.statement, l.currency))),
      h("td", { class: "num", "data-label": t("lcol.ledger") }, h("span", { class: "money" }, money(l.ledger, l.ledger_currency || l.currency))),
      h("td", { class: ["num", !zero(l.difference) && "text-danger strong"], "data-label": t("lcol.difference") }, l.difference ? money(l.difference, l.currency) : "—"),
      h("td", { class: "num", "data-label": t("lcol.fee") }, l.fee ? money(l.fee, l.settlement_currency || l.currency) : "—",
        l.settled ? h("div", { class: "muted small", "data-converted": "" },
          t("order.converted", { paid: money(l.statement.replace(/^-/, ""), l.currency), settled: money(l.settled, l.settlement_currency), rate: l.exchange_rate })) : null),
      h("td", { "data-label": t("lcol.at") }, time(l.at)),
      h("td", { class: "cell-note", "data-label": t("lcol.note") },
        l.note ? h("div", {}, l.note) : null,
        l.gateway_status || l.ledger_status ? h("div", { class: "muted small" }, [l.gateway_status, l.ledger_status].filter(Boolean).join(" / ")) : null))))));
}
