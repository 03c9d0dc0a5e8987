// Orders: every filter of GET /admin/orders, time presets, a keyword box that understands order
// numbers, trade numbers, e-mails and product names, totals, paging, and filters saved as URLs.
import { pathPart } from "./api.js";
import * as data from "./data.js";
import { copyText, h, icon, mount, openDialog, toast } from "./dom.js";
import * as F from "./filters.js";
import { integer, isoToShopInput, money, moneyByCurrency, shopTimeToIso } from "./fmt.js";
import { t } from "./i18n.js";
import { card, channelName, deliveryCell, methodName, emptyState, errorBox, loading, payBadge, pii, segmented, time } from "./ui.js";
import { looksLikeTradeNo, lookupPanel } from "./view-lookup.js";
import { amountPattern, paymentMethods } from "./meta.js";

export async function render(ctx) {
  ctx.setTitle(t("nav.orders"));
  window.sessionStorage.setItem("paytrack.last_orders", window.location.hash || "#/orders");
  const f = F.fromParams(ctx.params);
  const results = h("div", { class: "results" }, loading());
  mount(ctx.root, filterCard(ctx, f), savedRow(ctx), results);
  await search(ctx, f, results);
}

function go(ctx, f) { ctx.navigate(F.hashOf(f)); }

function filterCard(ctx, f) {
  const draft = { ...f, status: [...f.status] };
  const active = [f.status.length, f.delivery, f.channel, f.method, f.min_amount || f.max_amount, f.flagged, f.range !== "today", f.by === "paid"]
    .filter(Boolean).length;
  const keyword = h("input", { class: "input input-lg", id: "q", name: "q", type: "search", value: f.q,
    placeholder: t("orders.keyword_placeholder"), "aria-label": t("orders.keyword"), autocomplete: "off" });
  const field = h("select", { class: "input", id: "qf", name: "qf", "aria-label": t("orders.keyword_field") },
    F.KEYWORD_FIELDS.map((v) => h("option", { value: v, selected: v === f.qf }, t(`keyword.${v}`))));
  const customFrom = h("input", { type: "datetime-local", class: "input", id: "from", value: f.from ? isoToShopInput(f.from) : "", "aria-label": t("orders.from") });
  const customTo = h("input", { type: "datetime-local", class: "input", id: "to", value: f.to ? isoToShopInput(f.to) : "", "aria-label": t("orders.to") });
  const custom = h("div", { class: "custom-range", hidden: draft.range !== "custom" }, customFrom, h("span", { class: "muted" }, "—"), customTo);
  const rangeBox = h("div");
  const drawRange = () => mount(rangeBox, segmented(t("orders.range"),
    F.RANGES.map((r) => [r, t(`range.${r}`)]), draft.range, (r) => { draft.range = r; custom.hidden = r !== "custom"; drawRange(); }));
  drawRange();
  const byBox = h("div");
  const drawBy = () => mount(byBox, segmented(t("orders.time_field"),
    [["created", t("orders.by_created")], ["paid", t("orders.by_paid")]], draft.by, (b) => { draft.by = b; drawBy(); }));
  drawBy();

  const statusChips = h("div", { class: "chips", role: "group", "aria-label": t("orders.status") }, F.PAY_STATUSES.map((s) => {
    const box = h("input", { type: "checkbox", name: "status", value: s, checked: draft.status.includes(s),
      onchange: (e) => { draft.status = e.target.checked ? [...draft.status, s] : draft.status.filter((x) => x !== s); } });
    return h("label", { class: "chip" }, box, h("span", {}, t(`pay.${s}`)));
  }));
  const delivery = h("select", { class: "input", id: "delivery", name: "delivery" },
    h("option", { value: "" }, t("common.all")),
    F.DELIVERY_STATUSES.map((s) => h("option", { value: s, selected: s === f.delivery }, t(`delivery.${s}`))));
  const channel = h("select", { class: "input", id: "channel", name: "channel" }, h("option", { value: "" }, t("common.all")),
    f.channel ? h("option", { value: f.channel, selected: true }, channelName(f.channel)) : null);
  data.channels(ctx.api).then((list) => {
    if (!ctx.alive()) return;
    list.filter((c) => c !== f.channel).forEach((c) => channel.append(h("option", { value: c }, channelName(c))));
  }).catch((error) => toast(`${t("orders.channels_failed")} ${error.message}`, "error"));
  const method = h("input", { class: "input", id: "method", name: "method", value: f.method, placeholder: "alipay / wxpay / …", list: "methods" });
  const methods = h("datalist", { id: "methods" }, paymentMethods().map((m) => h("option", { value: m })));
  const minAmount = h("input", { class: "input input-num", id: "min_amount", name: "min_amount", inputmode: "decimal", value: f.min_amount, placeholder: "0.00", "aria-label": t("orders.min_amount") });
  const maxAmount = h("input", { class: "input input-num", id: "max_amount", name: "max_amount", inputmode: "decimal", value: f.max_amount, placeholder: "∞", "aria-label": t("orders.max_amount") });
  const flagged = h("select", { class: "input", id: "flagged", name: "flagged" },
    [["", t("common.all")], ["true", t("orders.flagged_yes")], ["false", t("orders.flagged_no")]]
      .map(([v, label]) => h("option", { value: v, selected: v === f.flagged }, label)));
  const formError = h("div", { class: "form-error", role: "alert" });

  const collect = () => {
    const next = { ...draft, q: keyword.value.trim(), qf: field.value, delivery: delivery.value, channel: channel.value,
      method: method.value.trim(), min_amount: minAmount.value.trim(), max_amount: maxAmount.value.trim(), flagged: flagged.value };
    const bad = [["min_amount", next.min_amount], ["max_amount", next.max_amount]].find(([, v]) => v && !amountPattern().test(v));
    if (bad) return [null, t("orders.bad_amount")];
    if (next.min_amount && next.max_amount && Number(next.min_amount) > Number(next.max_amount)) return [null, t("orders.amount_order")];
    if (next.range === "custom") {
      if (!customFrom.value) return [null, t("orders.custom_needs_from")];
      const [fd, ft] = customFrom.value.split("T");
      next.from = shopTimeToIso(fd, ft);
      if (customTo.value) { const [td, tt] = customTo.value.split("T"); next.to = shopTimeToIso(td, tt); } else next.to = "";
      if (next.to && next.to < next.from) return [null, t("orders.custom_order")];
    } else { next.from = ""; next.to = ""; }
    return [next, null];
  };

  const form = h("form", {
    class: "filters", role: "search", "aria-label": t("orders.filters"),
    onsubmit: (event) => {
      event.preventDefault();
      const [next, problem] = collect();
      formError.textContent = problem || "";
      if (next) go(ctx, next);
    },
  },
  h("div", { class: "filter-row filter-keyword" },
    h("div", { class: "keyword" }, icon("search"), keyword), field,
    h("button", { type: "submit", class: "btn btn-primary", "data-action": "search" }, t("action.search")),
    h("button", { type: "button", class: "btn btn-secondary filters-toggle", "aria-expanded": "false",
      onclick: (event) => {
        const open = event.currentTarget.closest("form").classList.toggle("filters-open");
        event.currentTarget.setAttribute("aria-expanded", open ? "true" : "false");
      } }, t("orders.more_filters"), active ? h("span", { class: "nav-count" }, String(active)) : null)),
  h("div", { class: "filter-row" },
    h("div", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.range")), rangeBox, byBox), custom),
  h("div", { class: "filter-row filter-grid" },
    h("div", { class: "filter-group filter-wide" }, h("span", { class: "filter-label" }, t("orders.status")), statusChips),
    h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.delivery")), delivery),
    h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.channel")), channel),
    h("div", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.amount")), h("div", { class: "amount-range" }, minAmount, h("span", { class: "muted" }, "—"), maxAmount)),
    h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.method")), method, methods),
    h("label", { class: "filter-group" }, h("span", { class: "filter-label" }, t("orders.flagged")), flagged)),
  formError,
  h("div", { class: "filter-actions" },
    h("button", { type: "button", class: "btn btn-ghost", "data-action": "reset", onclick: () => ctx.navigate("#/orders") }, t("action.reset")),
    h("button", {
      type: "button", class: "btn btn-ghost", "data-action": "save-filter",
      onclick: async () => {
        const [next, problem] = collect();
        if (!next) { formError.textContent = problem; return; }
        const name = await askName();
        if (!name) return;
        F.saveFilter(name, F.hashOf(next));
        toast(t("orders.saved", { name }), "success");
        go(ctx, next);
      },
    }, icon("bookmark"), t("orders.save_filter")),
    h("button", {
      type: "button", class: "btn btn-ghost", "data-action": "copy-link",
      onclick: async () => {
        const [next] = collect();
        const url = `${window.location.origin}${window.location.pathname}${F.hashOf(next || f)}`;
        toast(await copyText(url) ? t("orders.link_copied") : url, "success");
      },
    }, icon("link"), t("orders.copy_link")),
    h("a", { class: "btn btn-secondary", "data-action": "export", href: exportHash(f) },
      icon("download"), t("orders.export"))));
  return card(null, form, { cls: "filter-card" });
}

function exportHash(f) {
  const params = F.toParams(f);
  params.delete("limit");
  params.set("kind", "orders");
  return `#/export?${params}`;
}

function askName() {
  return openDialog(t("orders.save_filter"), (close) => {
    const input = h("input", { class: "input", id: "filter-name", required: true, maxlength: 40, placeholder: t("orders.filter_name_placeholder") });
    return h("form", {
      class: "dialog-form", onsubmit: (event) => { event.preventDefault(); if (input.value.trim()) close(input.value.trim()); },
    }, h("label", { for: "filter-name", class: "label" }, t("orders.filter_name")), input,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => close(undefined) }, t("action.cancel")),
      h("button", { type: "submit", class: "btn btn-primary primary" }, t("action.save"))));
  });
}

function savedRow(ctx) {
  const list = F.savedFilters();
  if (!list.length) return null;
  const current = window.location.hash;
  return h("div", { class: "saved", "aria-label": t("orders.saved_filters") },
    h("span", { class: "filter-label" }, icon("bookmark"), t("orders.saved_filters")),
    list.map((item) => h("span", { class: ["saved-item", item.hash === current && "saved-on"] },
      h("a", { href: item.hash }, item.name),
      h("button", { type: "button", class: "icon-btn", "aria-label": t("orders.remove_saved", { name: item.name }),
        onclick: () => { F.removeFilter(item.name); ctx.rerender(); } }, icon("x")))));
}

async function search(ctx, f, box) {
  const q = (f.q || "").trim();
  const guessed = f.qf !== "auto" ? f.qf : F.guessField(q);
  const tries = q && f.qf === "auto" && guessed === "order_no" ? ["order_no", "trade_no"] : [guessed];
  let pages = [null];         // cursors of the pages seen, for "previous"
  let page = 0;
  let field = tries[0];
  // Totals of the whole set cost a read of the whole set: the first page counts only itself
  // (exact when it holds every match) until the operator asks for all of them.
  let countAll = false;

  const load = async () => {
    mount(box, loading());
    try {
      let result = null;
      for (const candidate of tries) {
        field = candidate;
        result = await ctx.api.get("/admin/orders", {
          ...F.toApi(f, q ? candidate : null), limit: f.limit, cursor: pages[page] || undefined, totals: countAll ? "true" : "capped",
        });
        if (!ctx.alive()) return;
        if (result.items.length || page > 0) break;
      }
      draw(result);
    } catch (error) {
      if (!ctx.alive()) return;
      mount(box, errorBox(error, { retry: load }));
    }
  };

  const draw = (result) => {
    const totals = result.totals || { count: 0, amount_by_currency: {} };
    const counted = totals.capped ? [
      h("strong", { "data-total": "count" }, t("orders.total_more", { n: integer(totals.count) })),
      h("button", { type: "button", class: "btn btn-ghost btn-small", "data-action": "count-all",
        onclick: () => { countAll = true; pages = [null]; page = 0; load(); } }, t("orders.count_all")),
    ] : [
      h("strong", { "data-total": "count" }, t("orders.total_count", { n: integer(totals.count) })),
      h("span", { class: "summary-amount" }, t("orders.total_amount"), " ",
        h("strong", { "data-total": "amount" }, moneyByCurrency(totals.amount_by_currency))),
      totals.paid_amount_by_currency ? h("span", { class: "summary-amount" }, t("orders.paid_count", { n: integer(totals.paid_count) }),
        " · ", t("orders.paid_total"), " ", h("strong", { "data-total": "paid" }, moneyByCurrency(totals.paid_amount_by_currency))) : null,
    ];
    const summary = h("div", { class: "summary" },
      h("div", {},
        ...counted,
        q && field ? h("span", { class: "chip chip-static", "data-matched": field }, t("orders.matched_by", { field: t(`keyword.${field}`) })) : null),
      h("div", { class: "summary-right muted small" }, t("orders.page", { n: page + 1 }),
        " · ", h("label", {}, t("orders.per_page"), " ", h("select", {
          class: "input input-small", "aria-label": t("orders.per_page"),
          onchange: (e) => go(ctx, { ...f, limit: Number(e.target.value) }),
        }, [20, 50, 100, 200].map((n) => h("option", { value: n, selected: n === f.limit }, String(n)))))));
    if (!result.items.length) {
      mount(box, summary, card(null, emptyState(t("orders.none"), F.isEmpty(f) ? t("orders.none_hint_empty") : t("orders.none_hint"))),
        page === 0 && (field === "trade_no" || looksLikeTradeNo(q)) ? lookupPanel(ctx, q) : null);
      return;
    }
    const rows = result.items.map((o) => h("tr", {
      class: [o.hold && "row-held"], "data-order": o.order_no, tabindex: "-1",
      onclick: (event) => { if (!event.target.closest("a")) ctx.navigate(`#/orders/${pathPart(o.order_no)}`); },
    },
    h("td", { "data-label": t("col.order_no") }, h("a", { class: "mono strong", href: `#/orders/${pathPart(o.order_no)}` }, o.order_no),
      h("div", { class: "muted small" }, time(o.created_at))),
    h("td", { "data-label": t("col.product") }, h("div", { class: "cell-product", "data-typed": "" }, o.product_name),
      h("div", { class: "muted small" }, `${o.product_id}${o.quantity > 1 ? ` × ${o.quantity}` : ""}`)),
    h("td", { class: "num", "data-label": t("col.amount") }, h("span", { class: "money strong" }, money(o.amount, o.currency)),
      o.paid_amount && o.paid_amount !== o.amount ? h("div", { class: "small text-danger" }, t("orders.paid_other", { amount: money(o.paid_amount, o.currency) })) : null),
    h("td", { "data-label": t("col.pay") }, payBadge(o.pay_status)),
    h("td", { "data-label": t("col.delivery") }, deliveryCell(o)),
    h("td", { "data-label": t("col.channel") }, h("div", { class: "nowrap" }, channelName(o.channel)), o.method ? h("div", { class: "muted small" }, methodName(o.method)) : null),
    h("td", { "data-label": t("col.buyer"), class: "cell-buyer" }, h("div", { class: "ellipsis" }, pii(o.buyer_email)), h("div", { class: "small" }, pii(o.buyer_ip))),
    h("td", { "data-label": t("col.paid_at") }, time(o.paid_at))));
    const table = h("div", { class: "table-wrap" }, h("table", { class: "table table-orders" },
      h("thead", {}, h("tr", {},
        [["order_no"], ["product"], ["amount", "num"], ["pay"], ["delivery"], ["channel"], ["buyer"], ["paid_at"]]
          .map(([key, cls]) => h("th", { scope: "col", class: cls }, t(`col.${key}`))))),
      h("tbody", {}, rows)));
    const pager = h("nav", { class: "pager", "aria-label": t("orders.pages") },
      h("button", { type: "button", class: "btn btn-secondary", disabled: page === 0, "data-action": "prev",
        onclick: () => { page -= 1; load(); } }, t("orders.prev")),
      h("span", { class: "muted" }, t("orders.page_of", { n: page + 1, shown: result.items.length })),
      h("button", { type: "button", class: "btn btn-secondary", disabled: !result.next_cursor, "data-action": "next",
        onclick: () => { pages[page + 1] = result.next_cursor; page += 1; load(); } }, t("orders.next")));
    mount(box, summary, card(null, [table, pager], { cls: "card-flush" }));
  };
  await load();
}
