// 可视化报表: sales by day and by hour of day, channel success and fees, price points, products and
// repeat buyers — from GET /admin/stats, drawn as SVG by the page.
import { columns, hbars, legend, lines, responsive, ring } from "./charts.js";
import { h, mount } from "./dom.js";
import { addDays, atMost, axisMoney, integer, money, monthStart, percent, setZone, shopDate, toMinor, weekdayName } from "./fmt.js";
import { t } from "./i18n.js";
import { card, channelName, emptyState, errorBox, kpi, loading, rateTone, segmented } from "./ui.js";

const PRESETS = ["7d", "30d", "month", "custom"];

function rangeOf(preset, params) {
  const today = shopDate();
  if (preset === "30d") return [addDays(today, -29), today];
  if (preset === "month") return [monthStart(today), today];
  if (preset === "custom") return [params.get("from") || addDays(today, -6), params.get("to") || today];
  return [addDays(today, -6), today];
}

// A group's own currency: the selected one when it has money in it, else its first (a Stripe channel
// is paid in USD whatever the selector says).
function currencyOf(group, selected) {
  const list = Object.keys((group && group.money) || {});
  return list.includes(selected) || !list.length ? selected : list[0];
}

function amountOf(group, currency, field = "paid") {
  const m = group && group.money && group.money[currency];
  return m ? m[field] : "0";
}

function major(amount) { const m = toMinor(amount); return m.minor / 10 ** m.digits; }

export async function render(ctx) {
  ctx.setTitle(t("nav.stats"));
  const preset = PRESETS.includes(ctx.params.get("range")) ? ctx.params.get("range") : "7d";
  const [from, to] = rangeOf(preset, ctx.params);
  const fromInput = h("input", { type: "date", class: "input", id: "stats-from", value: from, max: shopDate(), "aria-label": t("stats.from") });
  const toInput = h("input", { type: "date", class: "input", id: "stats-to", value: to, max: shopDate(), "aria-label": t("stats.to") });
  const custom = h("form", { class: "custom-range", hidden: preset !== "custom",
    onsubmit: (e) => { e.preventDefault(); ctx.navigate(`#/stats?range=custom&from=${fromInput.value}&to=${toInput.value}`); } },
  fromInput, h("span", { class: "muted" }, "—"), toInput, h("button", { type: "submit", class: "btn btn-secondary" }, t("action.apply")));
  const body = h("div", {}, loading());
  mount(ctx.root,
    h("div", { class: "toolbar" },
      h("div", { class: "toolbar-left" }, segmented(t("stats.range"), PRESETS.map((p) => [p, t(`stats.preset.${p}`)]), preset, (p) => {
        if (p === "custom") { custom.hidden = false; fromInput.focus(); return; }
        ctx.navigate(`#/stats${p === "7d" ? "" : `?range=${p}`}`);
      }), custom),
      h("span", { class: "muted small" }, t("stats.period", { from, to }))),
    body);

  const dims = ["day", "hour_of_day", "channel", "price_point", "product"];
  let results;
  try {
    results = await Promise.all(dims.map((by) => ctx.api.get("/admin/stats", { from, to, by })));
  } catch (error) {
    if (!ctx.alive()) return;
    mount(body, errorBox(error, { retry: () => ctx.rerender() }));
    return;
  }
  if (!ctx.alive()) return;
  const [byDay, byHourOfDay, byChannel, byPrice, byProduct] = results;
  setZone(byDay.timezone);
  const currencies = Object.keys(byDay.totals.money || {});
  let currency = currencies.includes("CNY") || !currencies.length ? "CNY" : currencies[0];
  const cleanups = [];
  ctx.onCleanup(() => cleanups.splice(0).forEach((fn) => fn()));

  const draw = () => {
    cleanups.splice(0).forEach((fn) => fn());
    const totals = byDay.totals;
    const m = (totals.money || {})[currency] || { paid: "0", fees: "0", net: "0", refunds: "0" };
    const repeatShare = totals.orders_paid ? totals.repeat_buyer_orders / totals.orders_paid : null;
    const lat = totals.pay_to_delivery_seconds || {};

    const dayData = dayList(from, to).map((day) => {
      const g = byDay.groups.find((x) => x.key === day);
      const amount = amountOf(g, currency);
      return { label: day.slice(5), day, value: major(amount), amount, paid: g ? g.orders_paid : 0, created: g ? g.orders_created : 0,
        rate: g ? g.success_rate : null, repeat: g && g.orders_paid ? g.repeat_buyer_orders / g.orders_paid : null,
        title: `${day} ${weekdayName(day)} · ${money(amount, currency)} · ${t("stats.paid_of", { paid: g ? g.orders_paid : 0, created: g ? g.orders_created : 0 })}` };
    });
    const hourData = Array.from({ length: 24 }, (_, hr) => {
      const key = String(hr).padStart(2, "0");
      const g = byHourOfDay.groups.find((x) => x.key === key);
      const amount = amountOf(g, currency);
      const paid = g ? g.orders_paid : 0;
      return { label: key, value: major(amount), amount, paid, title: `${key}:00–${key}:59 · ${money(amount, currency)} · ${t("dashboard.paid_orders", { n: paid })}` };
    });
    const peak = hourData.reduce((best, d) => (d.value > best.value ? d : best), hourData[0]);

    const dayBox = h("div", { class: "chart-box", "data-chart": "daily" });
    const rateBox = h("div", { class: "chart-box", "data-chart": "rates" });
    const hourBox = h("div", { class: "chart-box", "data-chart": "hours" });
    const channelBox = h("div", { class: "chart-box", "data-chart": "channel-rate" });
    const priceBox = h("div", { class: "chart-box", "data-chart": "price-points" });

    mount(body, 
      currencies.length > 1 ? h("div", { class: "toolbar" }, segmented(t("stats.currency"), currencies.map((c) => [c, c]), currency, (c) => { currency = c; draw(); })) : null,
      h("div", { class: "kpis kpis-6" },
        kpi(t("stats.kpi_paid"), money(m.paid, currency), { tone: "primary", testid: "stats-paid", sub: t("stats.kpi_refunds", { refunds: money(m.refunds, currency) }) }),
        kpi(t("stats.kpi_orders"), integer(totals.orders_paid), { testid: "stats-orders", sub: t("stats.kpi_created", { created: integer(totals.orders_created), expired: integer(totals.orders_expired) }) }),
        kpi(t("stats.kpi_rate"), percent(totals.success_rate), { tone: rateTone(totals.success_rate), testid: "stats-rate" }),
        kpi(t("stats.kpi_fees"), money(m.fees, currency), { sub: t("stats.kpi_fee_rate", { rate: major(m.paid) ? percent(major(m.fees) / major(m.paid), 2) : "—" }) }),
        kpi(t("stats.kpi_net"), money(m.net, currency), { tone: "success", testid: "stats-net",
          sub: major(m.converted) || major(m.settled) ? t("stats.kpi_converted", { out: money(m.converted, currency), in: money(m.settled, currency) }) : null }),
        kpi(t("stats.kpi_latency"), atMost(lat.p50), { sub: `P95 ${atMost(lat.p95)}` })),
      h("div", { class: "grid grid-2-1" },
        card(t("stats.daily"), [dayBox, legend([{ tone: "primary", label: t("stats.paid_amount", { currency }) }])], { subtitle: t("stats.daily_sub") }),
        card(t("stats.repeat"), h("div", { class: "repeat" },
          ring(repeatShare, percent(repeatShare, 0), { tone: "teal", label: t("stats.repeat") }),
          h("div", {}, h("p", { class: "big-number", "data-kpi": "repeat-orders" }, integer(totals.repeat_buyer_orders)),
            h("p", { class: "muted" }, t("stats.repeat_text", { n: integer(totals.repeat_buyer_orders), paid: integer(totals.orders_paid) })))),
        { subtitle: t("stats.repeat_sub") })),
      h("div", { class: "grid grid-2" },
        card(t("stats.rates"), [rateBox, legend([{ tone: "primary", label: t("stats.success_rate") }, { tone: "teal", label: t("stats.repeat_share") }])],
          { subtitle: t("stats.rates_sub") }),
        card(t("stats.hours"), [hourBox, h("p", { class: "card-note muted" }, peak && peak.value > 0 ? t("stats.peak", { from: peak.label, to: String(Number(peak.label) + 1).padStart(2, "0") }) : "")],
          { subtitle: t("stats.hours_sub") })),
      card(t("stats.channels"), [channelBox, channelTable(byChannel.groups, currency)], { subtitle: t("stats.channels_sub") }),
      h("div", { class: "grid grid-2" },
        card(t("stats.prices"), [priceBox], { subtitle: t("stats.prices_sub") }),
        card(t("stats.products"), productTable(byProduct.groups, currency))));

    cleanups.push(responsive(dayBox, (w) => columns(w, dayData, { axis: (v) => axisMoney(v, currency), label: t("stats.daily"), emptyText: t("stats.no_data") })));
    cleanups.push(responsive(rateBox, (w) => lines(w, dayData.map((d) => d.label), [
      { name: t("stats.success_rate"), values: dayData.map((d) => d.rate), tone: "primary" },
      { name: t("stats.repeat_share"), values: dayData.map((d) => d.repeat), tone: "teal" },
    ], { max: 1, axis: (v) => percent(v, 0), label: t("stats.rates"), emptyText: t("stats.no_data") })));
    cleanups.push(responsive(hourBox, (w) => columns(w, hourData, { axis: (v) => axisMoney(v, currency), label: t("stats.hours"), emptyText: t("stats.no_data"), tone: "teal" })));
    const channels = byChannel.groups.filter((g) => g.orders_created).sort((a, b) => major(amountOf(b, currency)) - major(amountOf(a, currency)));
    cleanups.push(responsive(channelBox, (w) => hbars(w, channels.map((g) => ({
      label: channelName(g.key), value: g.success_rate || 0, tone: rateTone(g.success_rate),
      text: `${percent(g.success_rate)} · ${g.orders_paid}/${g.orders_created}`,
    })), { max: 1, label: t("stats.channels"), emptyText: t("stats.no_data") })));
    // the API sorts price points by currency, then amount; only the selected currency is drawn
    const prices = byPrice.groups.filter((g) => g.orders_created && g.currency === currency);
    cleanups.push(responsive(priceBox, (w) => hbars(w, prices.map((g) => ({
      label: money(g.price, g.currency), value: g.success_rate || 0, tone: rateTone(g.success_rate),
      text: `${percent(g.success_rate, 0)} · ${g.orders_paid}/${g.orders_created}`,
    })), { max: 1, label: t("stats.prices"), emptyText: t("stats.no_data") })));
  };
  draw();
}

function dayList(from, to) {
  const out = [];
  for (let d = from; d <= to && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}


function channelTable(groups, currency) {
  const rows = groups.filter((g) => g.orders_created || g.orders_paid);
  if (!rows.length) return emptyState(t("stats.no_data"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table table-compact", "data-table": "channels" },
    h("thead", {}, h("tr", {}, ["channel", "created", "paid", "rate", "pay_p50", "amount", "fees", "fee_rate", "net", "p50"].map((k) =>
      h("th", { scope: "col", class: k === "channel" ? null : "num" }, t(`scol.${k}`))))),
    h("tbody", {}, rows.map((g) => {
      const own = currencyOf(g, currency);
      const m = (g.money || {})[own] || { paid: "0", fees: "0", net: "0" };
      // a channel whose gateway settles in another currency: its fees and net are counted there
      const settledIn = major(m.converted) > 0 ? Object.keys(g.money || {}).find((c) => c !== own && major(g.money[c].settled) > 0) : null;
      const fee = settledIn ? { ...g.money[settledIn], base: g.money[settledIn].settled, currency: settledIn } : { ...m, base: m.paid, currency: own };
      const lat = g.pay_to_delivery_seconds || {};
      const payLat = g.create_to_pay_seconds || {};
      const failing = g.success_rate !== null && g.success_rate !== undefined && g.success_rate < 0.85;
      return h("tr", { class: failing ? "row-danger" : null },
        h("td", { "data-label": t("scol.channel") }, channelName(g.key), failing ? h("div", { class: "small text-danger" }, t("stats.failing")) : null),
        h("td", { class: "num", "data-label": t("scol.created") }, integer(g.orders_created)),
        h("td", { class: "num", "data-label": t("scol.paid") }, integer(g.orders_paid)),
        h("td", { class: ["num", `text-${rateTone(g.success_rate)}`], "data-label": t("scol.rate") }, percent(g.success_rate)),
        h("td", { class: "num", "data-label": t("scol.pay_p50") }, atMost(payLat.p50)),
        h("td", { class: "num", "data-label": t("scol.amount") }, h("span", { class: "money" }, money(m.paid, own))),
        h("td", { class: "num", "data-label": t("scol.fees") }, h("span", { class: "money" }, money(fee.fees, fee.currency))),
        h("td", { class: "num", "data-label": t("scol.fee_rate") }, major(fee.base) ? percent(major(fee.fees) / major(fee.base), 2) : "—"),
        h("td", { class: "num", "data-label": t("scol.net") }, h("span", { class: "money strong" }, money(fee.net, fee.currency))),
        h("td", { class: "num", "data-label": t("scol.p50") }, atMost(lat.p50)));
    }))));
}

function productTable(groups, currency) {
  const rows = groups.filter((g) => g.orders_created)
    .sort((a, b) => major(amountOf(b, currencyOf(b, currency))) - major(amountOf(a, currencyOf(a, currency)))).slice(0, 10);
  if (!rows.length) return emptyState(t("stats.no_data"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table table-compact" },
    h("thead", {}, h("tr", {}, ["product", "paid", "rate", "amount", "repeat"].map((k) =>
      h("th", { scope: "col", class: k === "product" ? null : "num" }, t(`scol.${k}`))))),
    h("tbody", {}, rows.map((g) => h("tr", {},
      h("td", { "data-label": t("scol.product"), "data-product": g.key }, h("div", { class: "cell-product", "data-typed": "" }, g.name || g.key),
        g.name ? h("div", { class: "muted small mono" }, g.key) : null),
      h("td", { class: "num", "data-label": t("scol.paid") }, integer(g.orders_paid)),
      h("td", { class: ["num", `text-${rateTone(g.success_rate)}`], "data-label": t("scol.rate") }, percent(g.success_rate, 0)),
      h("td", { class: "num", "data-label": t("scol.amount") }, h("span", { class: "money" }, money(amountOf(g, currencyOf(g, currency)), currencyOf(g, currency)))),
      h("td", { class: "num", "data-label": t("scol.repeat") }, integer(g.repeat_buyer_orders)))))));
}
