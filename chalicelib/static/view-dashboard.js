// 实时监控大屏: today's money and orders, success by channel, open anomalies, holds, payments
// coming in, sales by hour against yesterday and pay-to-delivery time — refreshing on its own.
import { columns, hbars, legend, responsive } from "./charts.js";
import { pathPart } from "./api.js";
import { h, icon, mount } from "./dom.js";
import { addDays, atMost, axisMoney, clock, integer, money, percent, shopDate, shopTimeToIso, setZone, toMinor } from "./fmt.js";
import { t } from "./i18n.js";
import { badge, card, channelName, deliveryCell, emptyState, errorBox, kpi, loading, payBadge, rateTone, ruleName, severityBadge, time } from "./ui.js";

const EVERY_MS = 20000;
const SEVERITIES = ["critical", "warning", "info"];

function mainCurrency(moneyByCurrency) {
  const list = Object.keys(moneyByCurrency || {});
  return list.includes("CNY") || !list.length ? "CNY" : list[0];
}

function major(amount) { const m = toMinor(amount); return m.minor / 10 ** m.digits; }

function hourly(groups, currency) {
  const byHour = new Map(groups.map((g) => [g.key.slice(-2), g]));
  return Array.from({ length: 24 }, (_, hour) => {
    const key = String(hour).padStart(2, "0");
    const group = byHour.get(key);
    const paid = group && group.money && group.money[currency] ? group.money[currency].paid : "0";
    return { label: key, hour: key, amount: paid, value: major(paid), paid: group ? group.orders_paid : 0,
      created: group ? group.orders_created : 0 };
  });
}

export async function render(ctx) {
  ctx.setTitle(t("nav.dashboard"));
  const status = h("span", { class: "refresh-status", "aria-live": "polite" }, t("dashboard.loading"));
  const pauseBtn = h("button", { type: "button", class: "btn btn-ghost btn-small", "data-action": "pause" });
  const nowBtn = h("button", { type: "button", class: "btn btn-ghost btn-small", "data-action": "refresh" }, icon("refresh"), t("action.refresh"));
  const slots = Object.fromEntries(["paid", "orders", "rate", "anomalies", "held"].map((k) => [k, h("div", { class: "kpi-slot" }, h("div", { class: "kpi kpi-skeleton" }))]));
  const kpis = h("div", { class: "kpis" }, Object.values(slots));
  const hourChart = h("div", { class: "chart-box", "data-chart": "hourly" });
  const hourLegend = h("div");
  const hourNote = h("p", { class: "card-note muted" });
  const channelBox = h("div", { class: "chart-box", "data-chart": "channels" }, loading());
  const latencyBox = h("div", { class: "latency" });
  const recentList = h("ol", { class: "feed", "data-list": "recent", "aria-live": "polite" }, h("li", {}, loading()));
  const anomalyBox = h("div", { "data-list": "anomalies" }, loading());
  const heldBox = h("div", { "data-list": "held" }, loading());
  const errors = h("div", { class: "errors" });

  mount(ctx.root,
    h("div", { class: "toolbar" },
      h("div", { class: "live" }, h("span", { class: "pulse", "aria-hidden": "true" }), status),
      h("div", { class: "toolbar-right" }, pauseBtn, nowBtn)),
    errors,
    kpis,
    h("div", { class: "grid grid-2-1" },
      card(t("dashboard.hourly"), [hourChart, hourLegend, hourNote], { subtitle: t("dashboard.hourly_sub") }),
      card(t("dashboard.channels"), [channelBox, latencyBox], { subtitle: t("dashboard.channels_sub") })),
    h("div", { class: "grid grid-2-1" },
      card(t("dashboard.recent"), recentList, {
        subtitle: t("dashboard.recent_sub"),
        actions: h("a", { class: "btn btn-ghost btn-small", href: "#/orders?range=today&by=paid" }, t("dashboard.all_today")),
      }),
      h("div", { class: "stack" },
        card(t("dashboard.anomalies"), anomalyBox, { actions: h("a", { class: "btn btn-ghost btn-small", href: "#/anomalies" }, t("dashboard.to_inbox")) }),
        card(t("dashboard.held"), heldBox, { actions: h("a", { class: "btn btn-ghost btn-small", href: "#/orders?delivery=held" }, t("dashboard.all_held")) }))));

  let timer = 0;
  let paused = false;
  let running = false;
  const seen = new Set();
  let firstLoad = true;
  let yesterday = null;
  let yesterdayDay = null;
  const charts = { hourly: () => {}, channels: () => {} };
  ctx.onCleanup(() => { window.clearTimeout(timer); charts.hourly(); charts.channels(); });

  const setPause = () => {
    mount(pauseBtn, icon(paused ? "play" : "pause"), paused ? t("dashboard.resume") : t("dashboard.pause"));
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
  };
  setPause();
  pauseBtn.addEventListener("click", () => { paused = !paused; setPause(); if (!paused) refresh(); else window.clearTimeout(timer); });
  nowBtn.addEventListener("click", () => refresh());

  const schedule = () => {
    window.clearTimeout(timer);
    if (!paused && ctx.alive()) timer = window.setTimeout(refresh, EVERY_MS);
  };
  const onVisible = () => { if (!document.hidden && !paused && ctx.alive()) refresh(); };
  document.addEventListener("visibilitychange", onVisible);
  ctx.onCleanup(() => document.removeEventListener("visibilitychange", onVisible));

  // Recent payments since midnight: the newest 12 rows and no totals, so a refresh reads about
  // 12 orders however busy the day is.
  async function recent(today) {
    return ctx.api.get("/admin/orders", { paid_from: shopTimeToIso(today), limit: 12, totals: "false" });
  }

  async function refresh() {
    if (running || !ctx.alive()) return;
    if (document.hidden) { schedule(); return; }
    running = true;
    const today = shopDate();
    if (yesterdayDay !== today) { yesterday = null; yesterdayDay = today; }
    const failures = [];
    const section = (promise, draw, onError) => promise.then((value) => { if (ctx.alive()) draw(value); })
      .catch((error) => { failures.push(error); if (ctx.alive() && onError) onError(error); });
    const hourP = ctx.api.get("/admin/stats", { from: today, to: today, by: "hour" });
    const yesterdayP = yesterday ? Promise.resolve(yesterday)
      : ctx.api.get("/admin/stats", { from: addDays(today, -1), to: addDays(today, -1), by: "hour" });
    await Promise.all([
      section(hourP, (stats) => {
        setZone(stats.timezone);
        drawMoneyKpis(stats.totals || {});
        drawHourly(stats, yesterday);
        drawLatency(stats.totals);
      }, (error) => mount(slots.paid, errorBox(error))),
      section(yesterdayP.then((value) => { yesterday = value; return hourP; }), (stats) => drawHourly(stats, yesterday)),
      section(ctx.api.get("/admin/stats", { from: today, to: today, by: "channel" }), drawChannels,
        (error) => mount(channelBox, errorBox(error))),
      section(ctx.api.get("/admin/anomalies", { status: "open", limit: 200 }), drawAnomalies, (error) => {
        mount(anomalyBox, errorBox(error));
        mount(slots.anomalies, kpi(t("dashboard.kpi_anomalies"), "—", { testid: "open-anomalies", iconName: "alert" }));
      }),
      section(ctx.api.get("/admin/orders", { delivery: "held", limit: 6, totals: "capped" }), drawHeld, (error) => {
        mount(heldBox, errorBox(error));
        mount(slots.held, kpi(t("dashboard.kpi_held"), "—", { testid: "held", iconName: "hand" }));
      }),
      section(recent(today), (result) => drawRecent(result.items || []), (error) => mount(recentList, h("li", {}, errorBox(error)))),
    ]);
    running = false;
    if (!ctx.alive()) return;
    mount(errors, ...failures.slice(0, 2).map((error) => errorBox(error, { title: t("dashboard.refresh_failed") })));
    status.textContent = failures.length
      ? t("dashboard.updated_with_errors", { time: clock() })
      : t("dashboard.updated", { time: clock(), seconds: EVERY_MS / 1000 });
    status.classList.toggle("text-danger", failures.length > 0);
    kpis.dataset.loaded = "true";
    firstLoad = false;
    schedule();
  }

  function drawMoneyKpis(totals) {
    const currency = mainCurrency(totals.money);
    const main = (totals.money || {})[currency] || { paid: "0.00", net: "0.00", fees: "0.00" };
    const others = Object.entries(totals.money || {}).filter(([c]) => c !== currency).map(([c, m]) => money(m.paid, c));
    mount(slots.paid, kpi(t("dashboard.kpi_paid"), money(main.paid, currency), {
      testid: "paid-amount", tone: "primary", iconName: "stats",
      sub: [h("div", {}, t("dashboard.kpi_net", { net: money(main.net, currency), fees: money(main.fees, currency) })),
        others.length ? h("div", { "data-kpi": "paid-other" }, t("dashboard.kpi_other", { amounts: others.join(" · ") })) : null],
    }));
    mount(slots.orders, kpi(t("dashboard.kpi_orders"), integer(totals.orders_paid), {
      testid: "paid-count", iconName: "orders",
      sub: t("dashboard.kpi_created", { created: integer(totals.orders_created), expired: integer(totals.orders_expired) }),
    }));
    mount(slots.rate, kpi(t("dashboard.kpi_rate"), percent(totals.success_rate), {
      testid: "success-rate", tone: rateTone(totals.success_rate), iconName: "check", sub: t("dashboard.kpi_rate_sub"),
    }));
  }

  function drawHourly(stats, before) {
    const currency = mainCurrency((stats.totals || {}).money);
    const today = hourly(stats.groups || [], currency);
    const compare = before ? hourly(before.groups || [], currency) : null;
    const nowHour = Number(clock().slice(0, 2));
    today.forEach((d) => { d.title = `${d.hour}:00 · ${money(d.amount, currency)} · ${t("dashboard.paid_orders", { n: d.paid })}`; });
    charts.hourly();
    charts.hourly = (responsive(hourChart, (width) => columns(width, today, {
      height: 230, axis: (v) => axisMoney(v, currency), label: t("dashboard.hourly"), compare,
      compareLabel: t("dashboard.yesterday"), emptyText: t("dashboard.no_sales_yet"), highlight: nowHour,
    })));
    mount(hourLegend, legend([{ tone: "primary", label: t("dashboard.today_paid", { currency }) },
      { tone: "compare", label: t("dashboard.yesterday") }]));
    const peak = today.reduce((best, d) => (d.value > best.value ? d : best), today[0]);
    hourNote.textContent = peak && peak.value > 0 ? t("dashboard.peak", { hour: peak.hour, amount: money(peak.amount, currency) }) : "";
  }

  function drawChannels(stats) {
    const groups = (stats.groups || []).filter((g) => g.orders_created > 0)
      .sort((a, b) => (b.orders_created - a.orders_created));
    charts.channels();
    charts.channels = (responsive(channelBox, (width) => hbars(width, groups.map((g) => ({
      label: channelName(g.key), value: g.success_rate || 0, tone: rateTone(g.success_rate),
      text: `${percent(g.success_rate)} · ${g.orders_paid}/${g.orders_created}`,
    })), { max: 1, label: t("dashboard.channels"), emptyText: t("dashboard.no_orders_yet") })));
  }

  function drawLatency(totals) {
    const p = (totals && totals.pay_to_delivery_seconds) || {};
    mount(latencyBox, 
      h("h3", { class: "mini-title" }, icon("clock"), t("dashboard.latency")),
      h("div", { class: "latency-row" },
        h("div", {}, h("span", { class: "muted" }, "P50 "), h("strong", { "data-kpi": "latency-p50" }, atMost(p.p50))),
        h("div", {}, h("span", { class: "muted" }, "P95 "), h("strong", { "data-kpi": "latency-p95" }, atMost(p.p95))),
        h("div", {}, h("span", { class: "muted" }, t("dashboard.delivered") + " "), h("strong", {}, integer(totals ? totals.delivered : 0)))));
  }

  function drawAnomalies(data) {
    const open = data.items || [];
    window.dispatchEvent(new CustomEvent("paytrack:open-anomalies", { detail: { count: open.length, more: Boolean(data.next_cursor) } }));
    const bySeverity = SEVERITIES.map((sev) => [sev, open.filter((a) => a.severity === sev).length]);
    mount(slots.anomalies, kpi(t("dashboard.kpi_anomalies"), data.next_cursor ? "200+" : String(open.length), {
      testid: "open-anomalies", tone: bySeverity[0][1] ? "danger" : (open.length ? "warning" : null), iconName: "alert",
      sub: h("span", { class: "sev-row" }, bySeverity.map(([sev, n]) =>
        h("a", { href: `#/anomalies?status=open&severity=${sev}`, class: ["sev", `sev-${sev}`], "data-severity-count": sev },
          `${t(`severity.${sev}`)} ${n}`))),
    }));
    const items = (data.items || []).slice().sort((a, b) =>
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || (b.created_at || "").localeCompare(a.created_at || ""));
    if (!items.length) { mount(anomalyBox, emptyState(t("dashboard.no_anomalies"))); return; }
    mount(anomalyBox, h("ul", { class: "mini-list" }, items.slice(0, 5).map((a) => h("li", {},
      severityBadge(a.severity),
      h("div", { class: "mini-two" },
        h("a", { href: `#/anomalies?status=open&focus=${pathPart(a.id)}`, class: "mini-main" }, ruleName(a.rule)),
        a.order_no ? h("a", { href: `#/orders/${pathPart(a.order_no)}`, class: "mono small muted-link" }, a.order_no)
          : h("span", { class: "muted small" }, a.channel ? channelName(a.channel) : "")),
      h("span", { class: "muted small push" }, time(a.created_at))))));
  }

  function drawHeld(data) {
    const held = integer(data.totals.count) + (data.totals.capped ? "+" : "");
    mount(slots.held, kpi(t("dashboard.kpi_held"), held, {
      testid: "held", tone: data.totals.count ? "warning" : null, iconName: "hand", sub: t("dashboard.kpi_held_sub"),
    }));
    const items = data.items || [];
    if (!items.length) { mount(heldBox, emptyState(t("dashboard.no_held"))); return; }
    mount(heldBox, h("ul", { class: "mini-list" }, items.map((o) => h("li", {},
      deliveryCell(o),
      h("div", { class: "mini-two" },
        h("a", { href: `#/orders/${pathPart(o.order_no)}`, class: "mini-main", "data-typed": "" }, o.product_name),
        h("span", { class: "mono small muted" }, o.order_no)),
      h("span", { class: "money small" }, money(o.amount, o.currency)),
      h("span", { class: "muted small push" }, time(o.paid_at || o.created_at))))));
  }

  function drawRecent(items) {
    if (!items.length) {
      mount(recentList, h("li", { class: "feed-empty" }, emptyState(t("dashboard.no_payments"))));
      return;
    }
    mount(recentList, ...items.map((o) => {
      const fresh = !firstLoad && !seen.has(o.order_no);
      seen.add(o.order_no);
      return h("li", { class: ["feed-item", fresh && "feed-new"], "data-order": o.order_no },
        h("span", { class: "feed-time" }, time(o.paid_at)),
        h("a", { class: "feed-main", href: `#/orders/${pathPart(o.order_no)}` },
          h("span", { class: "feed-product", "data-typed": "" }, o.product_name),
          h("span", { class: "feed-meta" }, `${channelName(o.channel)} · ${o.order_no}`)),
        h("span", { class: "feed-badges" }, o.hold ? badge(t("delivery.held"), "warning") : payBadge(o.pay_status)),
        h("span", { class: "money feed-amount" }, money(o.paid_amount || o.amount, o.currency)));
    }));
  }

  refresh();
}

