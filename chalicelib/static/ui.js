// Shared widgets: status badges, money cells, masked values, cards, errors in words, empty states.
import { h, icon } from "./dom.js";
import { money, shortTime, dateTime } from "./fmt.js";
import { colon, has, t } from "./i18n.js";
import { knownChannelName } from "./names.js";

const PAY_TONES = { pending: "neutral", paid: "success", expired: "muted", closed: "muted", refunded: "purple",
  partially_refunded: "purple" };
const DELIVERY_TONES = { pending: "info", held: "warning", delivered: "success", failed: "danger" };
const SEVERITY_TONES = { critical: "danger", warning: "warning", info: "info" };
const ANOMALY_STATUS_TONES = { open: "danger", acknowledged: "warning", resolved: "success" };

export function badge(text, tone = "neutral", attrs = {}) {
  return h("span", { class: ["badge", `badge-${tone}`], ...attrs }, text);
}

export function payBadge(status) {
  return badge(t(`pay.${status}`), PAY_TONES[status] || "neutral", { "data-status": status });
}

// Delivery means something only once an order is paid (a held unpaid order still shows its hold):
// an unpaid order gets no delivery badge, so "待发货" never suggests money arrived.
const PAID = new Set(["paid", "partially_refunded", "refunded"]);

export function deliveryCell(order) {
  if (PAID.has(order.pay_status) || order.delivery_status === "held") return deliveryBadge(order.delivery_status);
  return h("span", { class: "muted", title: t("delivery.not_paid"), "data-delivery": "none" }, "—");
}

export function deliveryBadge(status) {
  return badge(t(`delivery.${status}`), DELIVERY_TONES[status] || "neutral", { "data-delivery": status });
}

export function severityBadge(severity) {
  return badge(t(`severity.${severity}`), SEVERITY_TONES[severity] || "neutral", { "data-severity": severity });
}

export function anomalyStatusBadge(status) {
  return badge(t(`anomaly_status.${status}`), ANOMALY_STATUS_TONES[status] || "neutral", { "data-anomaly-status": status });
}

export function ruleName(rule) {
  if (!rule) return "—";
  return has(`rule.${rule}`) ? t(`rule.${rule}`) : rule.replace(/_/g, " ");
}

export function channelName(channel) {
  if (!channel) return "—";
  return knownChannelName(channel) || channel;
}

// A gateway type by its brand (支付宝, 易支付, Stripe …), a payment method by its name (微信支付,
// QQ钱包 …): both named by the server (GET /admin/meta, meta.js); an unknown one as it is.
export function gatewayName(gateway) {
  if (!gateway) return "—";
  return has(`gateway.${gateway}`) ? t(`gateway.${gateway}`) : gateway;
}

export function methodName(method) {
  if (!method) return "—";
  return has(`method.${method}`) ? t(`method.${method}`) : method;
}

export function moneyText(amount, currency) {
  return h("span", { class: "money" }, money(amount, currency));
}

const MASKED = /\*/;
// A PII value: shown with a lock when the API masked it (viewer keys), so it is never mistaken
// for the real address.
export function pii(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  if (MASKED.test(String(value))) {
    return h("span", { class: "masked", title: t("masked.title"), "data-masked": "true" }, icon("lock"), String(value));
  }
  return h("span", { class: "pii" }, String(value));
}

export function time(iso, full = false) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: dateTime(iso) }, full ? dateTime(iso) : shortTime(iso));
}

export function card(title, body, { actions = null, cls = null, id = null, subtitle = null } = {}) {
  return h("section", { class: ["card", cls], id, "aria-label": typeof title === "string" ? title : null },
    title || actions ? h("header", { class: "card-head" },
      h("div", {}, title ? h("h2", { class: "card-title" }, title) : null,
        subtitle ? h("p", { class: "card-sub" }, subtitle) : null),
      actions ? h("div", { class: "card-actions" }, actions) : null) : null,
    h("div", { class: "card-body" }, body));
}

// A definition list of [label, value] pairs; null values are skipped only when `skipEmpty`.
export function fields(pairs) {
  return h("dl", { class: "fields" }, pairs.filter(Boolean).map(([label, value, attrs]) => h("div", { class: "field", ...(attrs || {}) },
    h("dt", {}, label),
    h("dd", {}, value === null || value === undefined || value === "" ? h("span", { class: "muted" }, "—") : value))));
}

export function errorText(error) {
  if (!error) return "";
  const code = error.code || "error";
  const known = has(`error.${code}`) ? t(`error.${code}`) : t("error.generic");
  return `${known}${error.message ? `${colon()}${error.message}` : ""}`;
}

// An API error, in words: what it means, the server's own message, the code and the HTTP status.
export function errorBox(error, { retry = null, title = null } = {}) {
  const code = error && error.code ? error.code : "error";
  const explain = has(`error.${code}`) ? t(`error.${code}`) : t("error.generic");
  const detail = error && error.details && error.details.field ? t("error.field", { field: error.details.field }) : null;
  return h("div", { class: "alert alert-error", role: "alert", "data-error-code": code },
    icon("alert"),
    h("div", { class: "alert-body" },
      h("strong", {}, title || explain),
      title ? h("p", {}, explain) : null,
      error && error.message ? h("p", { class: "alert-message" }, error.message) : null,
      h("p", { class: "alert-meta" }, [detail, error && error.status ? `HTTP ${error.status}` : null, code]
        .filter(Boolean).join(" · ")),
      retry ? h("button", { class: "btn btn-small", type: "button", onclick: retry }, icon("refresh"), t("action.retry")) : null));
}

export function emptyState(text, hint = null) {
  return h("div", { class: "empty" }, h("p", {}, text), hint ? h("p", { class: "muted" }, hint) : null);
}

export function loading(text = null) {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text || t("common.loading"));
}

export function button(label, { kind = "secondary", iconName = null, onClick = null, attrs = {} } = {}) {
  return h("button", { type: "button", class: ["btn", `btn-${kind}`], onclick: onClick, ...attrs },
    iconName ? icon(iconName) : null, label);
}

export function segmented(name, options, current, onChange) {
  return h("div", { class: "segmented", role: "radiogroup", "aria-label": name },
    options.map(([value, label]) => h("button", {
      type: "button", role: "radio", "aria-checked": value === current ? "true" : "false",
      class: ["seg", value === current && "seg-on"], "data-value": value,
      onclick: () => onChange(value),
    }, label)));
}

export function kpi(label, value, { sub = null, tone = null, testid = null, iconName = null } = {}) {
  const figure = h("div", { class: "kpi-value", "data-kpi": testid }, value);
  fitText(figure);
  return h("div", { class: ["kpi", tone && `kpi-${tone}`] },
    h("div", { class: "kpi-label" }, iconName ? icon(iconName) : null, label),
    figure,
    sub ? h("div", { class: "kpi-sub" }, sub) : null);
}

// A key figure is never cut ("¥20,48…"): its font shrinks until the whole figure fits its box,
// again whenever the box changes size.
export function fitText(el, smallest = 13) {
  const fit = () => {
    el.style.fontSize = "";
    let size = parseFloat(getComputedStyle(el).fontSize);
    while (el.scrollWidth > el.clientWidth + 1 && size > smallest) {
      size -= 1;
      el.style.fontSize = `${size}px`;
    }
  };
  new ResizeObserver(fit).observe(el);
}

// The tone of a success rate: below 85% is trouble (the seed's "失败率持续高于15%"), below 90% a warning.
export function rateTone(rate) {
  if (rate === null || rate === undefined) return "muted";
  if (rate < 0.85) return "danger";
  if (rate < 0.9) return "warning";
  return "success";
}
