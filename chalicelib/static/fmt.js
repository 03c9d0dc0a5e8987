// Formatting: money from the API's decimal strings (never through floats), times in the shop's zone.
import { lang, t } from "./i18n.js";

let zone = "Asia/Shanghai";
export function setZone(name) { if (name) zone = name; }
export function shopZone() { return zone; }

const SYMBOLS = { CNY: "¥", USD: "US$", HKD: "HK$", EUR: "€", GBP: "£", JPY: "JP¥", TWD: "NT$" };

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// "12345.6" + "CNY" -> "¥12,345.60"-style text; the string's own minor digits are kept as sent.
export function money(amount, currency = "CNY") {
  if (amount === null || amount === undefined || amount === "") return "—";
  const text = String(amount);
  const negative = text.startsWith("-");
  const [whole, fraction] = text.replace(/^-/, "").split(".");
  const number = group(whole || "0") + (fraction !== undefined ? `.${fraction}` : "");
  const symbol = SYMBOLS[currency];
  const body = symbol ? `${symbol}${number}` : `${number} ${currency}`;
  return negative ? `-${body}` : body;
}

// Exact arithmetic on decimal strings: minor units as integers (safe far beyond a shop's totals).
export function toMinor(amount) {
  const text = String(amount || "0");
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^-/, "").split(".");
  const minor = Number(whole || "0") * 10 ** fraction.length + Number(fraction || "0");
  return { minor: negative ? -minor : minor, digits: fraction.length };
}

export function fromMinor(minor, digits) {
  const negative = minor < 0;
  const abs = Math.abs(Math.round(minor));
  if (!digits) return `${negative ? "-" : ""}${abs}`;
  const text = String(abs).padStart(digits + 1, "0");
  return `${negative ? "-" : ""}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

// Several amounts as "¥1,234.00 · US$5.00" (a dict currency -> amount string).
export function moneyByCurrency(byCurrency) {
  const entries = Object.entries(byCurrency || {});
  if (!entries.length) return money("0.00", "CNY");
  return entries.map(([currency, amount]) => money(amount, currency)).join(" · ");
}

export function percent(rate, digits = 1) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "—";
  return `${(rate * 100).toFixed(digits)}%`;
}

export function integer(n) {
  if (n === null || n === undefined) return "—";
  return group(String(Math.round(n)));
}

function parts(date, options) {
  const out = {};
  new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", ...options })
    .formatToParts(date).forEach((p) => { out[p.type] = p.value; });
  return out;
}

function zoned(iso) {
  if (!iso) return null;
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  return parts(date, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// "2026-11-25 14:23:05" in the shop's zone.
export function dateTime(iso, { seconds = true } = {}) {
  const p = zoned(iso);
  if (!p) return "—";
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

// Short form for tables: "14:23:05" today, "11-24 14:23" this year, else the full date.
export function shortTime(iso) {
  const p = zoned(iso);
  if (!p) return "—";
  const now = zoned(new Date());
  if (p.year === now.year && p.month === now.month && p.day === now.day) return `${p.hour}:${p.minute}:${p.second}`;
  if (p.year === now.year) return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day}`;
}

export function clock(date = new Date()) {
  const p = zoned(date);
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return t("time.just_now");
  if (seconds < 3600) return t("time.minutes_ago", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return t("time.hours_ago", { n: Math.floor(seconds / 3600) });
  return t("time.days_ago", { n: Math.floor(seconds / 86400) });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return t("time.seconds", { n: Math.round(seconds) });
  if (seconds < 3600) return t("time.minutes", { n: Math.round(seconds / 6) / 10 });
  if (seconds < 86400) return t("time.hours", { n: Math.round(seconds / 360) / 10 });
  return t("time.days", { n: Math.round(seconds / 8640) / 10 });
}

// The shop's calendar day of a moment, "2026-11-25".
// A percentile from the API's latency histogram: the upper bound of its bucket.
export function atMost(seconds) {
  return seconds === null || seconds === undefined ? "—" : `≤ ${duration(seconds)}`;
}

export function shopDate(date = new Date()) {
  const p = parts(date, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + n));
  return next.toISOString().slice(0, 10);
}

function offsetMinutes(date) {
  const p = parts(date, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

// A wall-clock time in the shop's zone ("2026-11-25", "14:30") as an API time "2026-11-25T06:30:00Z".
export function shopTimeToIso(day, time = "00:00") {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh || 0, mm || 0);
  let at = guess - offsetMinutes(new Date(guess)) * 60000;
  const second = offsetMinutes(new Date(at));
  at = guess - second * 60000;
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// An API time as the shop's wall clock for <input type=datetime-local>: "2026-11-25T14:30".
export function isoToShopInput(iso) {
  const p = zoned(iso);
  return p ? `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}` : "";
}

export function weekStart(day) {
  const [y, m, d] = day.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay(); // 0 = Sunday; weeks start on Monday
  return addDays(day, -((weekday + 6) % 7));
}

export function monthStart(day) { return `${day.slice(0, 7)}-01`; }

export function weekdayName(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", { weekday: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

// Chart axis labels: ¥1.2万 in Chinese, ¥12k in English.
export function axisMoney(v, currency) {
  const symbol = currency === "CNY" ? "¥" : "";
  if (lang() === "zh" && v >= 10000) return `${symbol}${+(v / 10000).toFixed(1)}${t("unit.wan")}`;
  if (lang() !== "zh" && v >= 1000) return `${symbol}${+(v / 1000).toFixed(1)}k`;
  return `${symbol}${Math.round(v * 100) / 100}`;
}
