// What the server describes (GET /admin/meta), so the page copies none of it: the anomaly rules,
// the gateway types and payment methods with their names, the channels, and each currency's minor
// digits. Loaded once a session starts; the names join the page's words (rule.*, gateway.*, method.*).
import { extend } from "./i18n.js";
import { rememberChannelNames } from "./names.js";

let meta = { rules: [], inbox_rules: [], gateway_types: [], methods: [], channels: [], currencies: {} };

export async function loadMeta(api) {
  meta = await api.get("/admin/meta");
  const zh = {};
  const en = {};
  const learn = (key, label) => { zh[key] = label.zh; en[key] = label.en; };
  meta.rules.forEach((r) => learn(`rule.${r.name}`, r.label));
  meta.gateway_types.forEach((g) => learn(`gateway.${g.type}`, g.label));
  meta.methods.forEach((m) => learn(`method.${m.method}`, m.label));
  extend(zh, en);
  rememberChannelNames(Object.fromEntries(meta.channels.filter((c) => c.name).map((c) => [c.id, c.name])));
  return meta;
}

// Every rule the anomaly inbox can be filtered by: the engine's, then a review's.
export const inboxRules = () => [...meta.rules.map((r) => r.name), ...meta.inbox_rules];

export const paymentMethods = () => meta.methods.map((m) => m.method);

// An amount as typed: digits, then at most the currency's minor digits (none for JPY, 3 for KWD);
// without a currency, at most the most any currency has.
export function amountPattern(currency) {
  const all = Object.values(meta.currencies);
  const digits = currency && currency in meta.currencies ? meta.currencies[currency] : (all.length ? Math.max(...all) : 2);
  return digits ? new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`) : /^\d+$/;
}
