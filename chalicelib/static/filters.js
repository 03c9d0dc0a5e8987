// The order filter: one value behind the Orders screen, its URL (bookmarkable) and the API's
// parameters (GET /admin/orders, POST /admin/exports). Time presets are kept as names in the URL,
// so a bookmarked "today" is today when it is opened.
import { addDays, monthStart, shopDate, shopTimeToIso, weekStart } from "./fmt.js";

export const PAY_STATUSES = ["pending", "paid", "expired", "closed", "refunded", "partially_refunded"];
export const DELIVERY_STATUSES = ["pending", "held", "delivered", "failed"];
export const RANGES = ["today", "week", "month", "30d", "custom"];
export const KEYWORD_FIELDS = ["auto", "order_no", "trade_no", "email", "product", "buyer_id", "ip"];
const EXACT = new Set(["order_no", "trade_no", "ip"]);
const TEXT_KEYS = ["delivery", "channel", "method", "min_amount", "max_amount", "q", "qf", "flagged", "from", "to"];

export function fromParams(params) {
  const f = {
    range: params.get("range") || "today",
    by: params.get("by") === "paid" ? "paid" : "created",
    status: params.getAll("status").filter((s) => PAY_STATUSES.includes(s)),
  };
  TEXT_KEYS.forEach((key) => { f[key] = params.get(key) || ""; });
  if (!RANGES.includes(f.range)) f.range = "today";
  if (!KEYWORD_FIELDS.includes(f.qf)) f.qf = "auto";
  f.limit = Math.min(200, Math.max(1, Number(params.get("limit")) || 50));
  return f;
}

export function toParams(f) {
  const params = new URLSearchParams();
  if (f.range && f.range !== "today") params.set("range", f.range);
  if (f.by === "paid") params.set("by", "paid");
  if (f.range === "custom") {
    if (f.from) params.set("from", f.from);
    if (f.to) params.set("to", f.to);
  }
  (f.status || []).forEach((s) => params.append("status", s));
  ["delivery", "channel", "method", "min_amount", "max_amount", "flagged"].forEach((key) => { if (f[key]) params.set(key, f[key]); });
  if (f.q) {
    params.set("q", f.q);
    if (f.qf && f.qf !== "auto") params.set("qf", f.qf);
  }
  if (f.limit && f.limit !== 50) params.set("limit", String(f.limit));
  return params;
}

export function hashOf(f, base = "#/orders") {
  const text = toParams(f).toString();
  return text ? `${base}?${text}` : base;
}

// How an "auto" keyword is read: an e-mail, an exact number (order first, then trade number), or a product.
export function guessField(q) {
  const text = (q || "").trim();
  if (!text) return null;
  if (text.includes("@")) return "email";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text) || /^[0-9a-f:]+:[0-9a-f:]+$/i.test(text)) return "ip";
  if (/^[A-Za-z0-9_-]{10,64}$/.test(text) && /\d{6,}/.test(text)) return "order_no";
  return "product";
}

export function isExact(field) { return EXACT.has(field); }

// The [from, to] of a preset as API times (to = null: until now).
export function rangeBounds(f) {
  const today = shopDate();
  switch (f.range) {
    case "today": return [shopTimeToIso(today), null];
    case "week": return [shopTimeToIso(weekStart(today)), null];
    case "month": return [shopTimeToIso(monthStart(today)), null];
    case "custom": return [f.from || null, f.to || null];
    default: return [null, null];
  }
}

// GET /admin/orders parameters. `field` is the keyword's resolved field.
export function toApi(f, field = null) {
  const api = {};
  const keywordField = field || (f.qf !== "auto" ? f.qf : guessField(f.q));
  const q = (f.q || "").trim();
  if (q && keywordField && isExact(keywordField) && keywordField !== "ip") {
    // an exact number finds its order over the whole searchable year, whatever the preset says
    api.from = shopTimeToIso(addDays(shopDate(), -365));
  } else {
    const [from, to] = rangeBounds(f);
    if (f.by === "paid") {
      if (from) api.paid_from = from;
      if (to) api.paid_to = to;
      if (f.range === "30d") api.paid_from = shopTimeToIso(addDays(shopDate(), -30));
    } else {
      if (from) api.from = from;
      if (to) api.to = to;
    }
  }
  if (f.status && f.status.length) api.status = f.status;
  ["delivery", "channel", "method", "min_amount", "max_amount", "flagged"].forEach((key) => { if (f[key]) api[key] = f[key]; });
  if (q && keywordField) api[keywordField] = q;
  return api;
}

// The same filter as a POST /admin/exports body (strings; status a list).
export function toExport(f, field = null) {
  const body = {};
  for (const [key, value] of Object.entries(toApi(f, field))) body[key] = value;
  return body;
}

export function isEmpty(f) {
  return !f.q && !(f.status || []).length && !f.delivery && !f.channel && !f.method && !f.min_amount && !f.max_amount
    && !f.flagged && f.range === "today" && f.by !== "paid";
}

const SAVED = "paytrack.saved_filters";
export function savedFilters() {
  try { return JSON.parse(localStorage.getItem(SAVED) || "[]"); } catch { return []; }
}
export function saveFilter(name, hash) {
  const list = savedFilters().filter((item) => item.name !== name);
  list.unshift({ name, hash });
  localStorage.setItem(SAVED, JSON.stringify(list.slice(0, 12)));
}
export function removeFilter(name) {
  localStorage.setItem(SAVED, JSON.stringify(savedFilters().filter((item) => item.name !== name)));
}
