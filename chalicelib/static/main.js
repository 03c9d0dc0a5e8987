// The operator console: boot, sign-in, the shell (navigation, language, role, sign-out) and a hash
// router, so every screen — with its filters — is a URL that can be bookmarked or shared.
import { Api, ApiError } from "./api.js";
import { h, icon, mount, toast } from "./dom.js";
import { colon, lang, setLang, t } from "./i18n.js";
import * as session from "./session.js";
import { errorText } from "./ui.js";
import { shopZone } from "./fmt.js";
import * as signin from "./view-signin.js";
import * as dashboard from "./view-dashboard.js";
import * as orders from "./view-orders.js";
import * as order from "./view-order.js";
import * as anomalies from "./view-anomalies.js";
import * as reconciliations from "./view-reconciliations.js";
import * as stats from "./view-stats.js";
import * as exportsView from "./view-export.js";
import * as refundsView from "./view-refunds.js";
import { loadMeta } from "./meta.js";

const NAV = [
  ["dashboard", "dashboard", "nav.dashboard"],
  ["orders", "orders", "nav.orders"],
  ["anomalies", "alert", "nav.anomalies"],
  ["reconciliations", "reconcile", "nav.reconciliations"],
  ["stats", "stats", "nav.stats"],
  ["export", "download", "nav.export"],
  ["refunds", "check", () => refundsView.tr("nav"), "admin"],
];

const state = { api: null, role: null, meta: null, cleanups: [], generation: 0, notice: null };

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(search) };
}

export function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function pickView(parts) {
  const [first, second] = parts;
  if (!first || first === "dashboard") return [dashboard, "dashboard"];
  if (first === "orders" && second) return [order, "orders"];
  if (first === "orders") return [orders, "orders"];
  if (first === "anomalies") return [anomalies, "anomalies"];
  if (first === "reconciliations") return [reconciliations, "reconciliations"];
  if (first === "stats") return [stats, "stats"];
  if (first === "export") return [exportsView, "export"];
  if (first === "refunds") return [refundsView, "refunds"];
  return [null, null];
}

function runCleanups() {
  state.cleanups.splice(0).forEach((fn) => { try { fn(); } catch { /* a view's cleanup must not stop the next */ } });
}

function signOut(reason) {
  runCleanups();
  session.clear();
  state.api = null;
  state.role = null;
  state.notice = reason || null;
  render();
}

function roleChip(role) {
  return h("span", { class: ["role", `role-${role}`], "data-role": role, title: t(`role_hint.${role}`) },
    icon(role === "viewer" ? "lock" : "shield"), t(`role.${role}`));
}

function languageButton() {
  const next = lang() === "zh" ? "en" : "zh";
  return h("button", {
    type: "button", class: "btn btn-ghost lang-switch", "data-lang-switch": next, lang: next,
    "aria-label": next === "en" ? "Switch to English" : "切换到中文",
    onclick: () => { setLang(next); render(); },
  }, icon("globe"), next === "en" ? "English" : "中文");
}

function shell(active) {
  const nav = h("nav", { class: "nav", "aria-label": t("nav.label") },
    NAV.filter(([, , , role]) => !role || role === state.role).map(([id, iconName, label]) => h("a", {
      href: `#/${id}`, class: ["nav-link", id === active && "nav-on"], "data-nav": id,
      "aria-current": id === active ? "page" : null,
    }, icon(iconName), h("span", {}, typeof label === "function" ? label() : t(label)), id === "anomalies" ? h("span", { class: "nav-count", id: "nav-anomaly-count", hidden: true }) : null)));
  const skip = document.querySelector(".skip");
  if (skip) skip.textContent = t("nav.skip");
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const title = h("h1", { class: "page-title", id: "page-title" }, "");
  const layout = h("div", { class: "shell" },
    h("aside", { class: "sidebar" },
      h("a", { class: "brand", href: "#/dashboard" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "¥"),
        h("span", { class: "brand-text" }, h("strong", {}, "paytrack"), h("small", {}, t("brand.tagline")))),
      nav,
      h("div", { class: "sidebar-foot", title: shopZone() }, t("brand.zone", { zone: zoneName(shopZone()) }))),
    h("div", { class: "column" },
      h("header", { class: "topbar" }, title, globalSearch(),
        h("div", { class: "topbar-tools" }, roleChip(state.role), languageButton(),
          h("button", { type: "button", class: "btn btn-ghost", "data-action": "sign-out", onclick: () => signOut(null) },
            icon("logout"), h("span", { class: "hide-sm" }, t("action.sign_out"))))),
      state.role === "viewer" ? h("div", { class: "readonly-bar", role: "note" }, icon("lock"), t("viewer.banner")) : null,
      main));
  return { layout, main, title };
}

function route() {
  if (!state.api) { render(); return; }
  runCleanups();
  const generation = ++state.generation;
  const { parts, params } = parseHash();
  const [view, active] = pickView(parts);
  const { layout, main, title } = shell(active);
  mount(document.getElementById("app"), layout);
  document.getElementById("app").className = "";
  const ctx = {
    api: state.api, role: state.role, canAct: session.canAct(state.role), parts, params, root: main,
    alive: () => generation === state.generation,
    onCleanup: (fn) => state.cleanups.push(fn),
    setTitle: (text) => { title.textContent = text; document.title = `${text} · paytrack`; },
    navigate, rerender: route,
  };
  if (!view) {
    ctx.setTitle(t("common.not_found"));
    mount(main, h("div", { class: "empty" }, h("p", {}, t("common.not_found")), h("a", { href: "#/dashboard" }, t("nav.dashboard"))));
    return;
  }
  Promise.resolve(state.meta).then(() => (ctx.alive() ? view.render(ctx) : null)).catch((error) => {
    if (!ctx.alive()) return;
    console.error(error);
    mount(main, h("div", { class: "alert alert-error", role: "alert" }, icon("alert"),
      h("div", { class: "alert-body" }, h("strong", {}, t("error.page")), h("p", {}, errorText(error) || String(error)))));
  });
  if (active !== "dashboard") refreshAnomalyCount(generation);
}

function showAnomalyCount(n, more) {
  lastCount = { at: Date.now(), n, more };
  const count = document.getElementById("nav-anomaly-count");
  if (!count) return;
  count.textContent = more ? "200+" : String(n);
  count.hidden = n === 0;
}

// The open-anomaly count beside "异常" in the navigation (one small list call per screen change).
let lastCount = { at: 0, n: 0, more: false };
async function refreshAnomalyCount(generation) {
  if (Date.now() - lastCount.at < 30000) { showAnomalyCount(lastCount.n, lastCount.more); return; }
  try {
    const data = await state.api.get("/admin/anomalies", { status: "open", limit: 200 });
    if (generation !== state.generation) return;
    showAnomalyCount((data.items || []).length, Boolean(data.next_cursor));
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) toast(`${t("nav.anomalies")}${colon()}${errorText(error)}`, "error");
  }
}

function render() {
  const app = document.getElementById("app");
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  app.className = "";
  if (!state.api) {
    runCleanups();
    document.title = `${t("signin.title")} · paytrack`;
    mount(app, signin.render({
      notice: state.notice,
      languageButton,
      onSignedIn: (key, role) => {
        session.save(key, role);
        state.notice = null;
        startSession(key, role);
        route();
      },
    }));
    return;
  }
  route();
}

function startSession(key, role) {
  state.api = new Api(key, () => signOut(t("signin.expired")));
  state.role = role;
  // screens wait for it; without it names show as ids and amounts are read at two decimals
  state.meta = loadMeta(state.api).catch((error) => { if (!(error instanceof ApiError && error.status === 401)) toast(errorText(error), "error"); });
}

function boot() {
  document.querySelector(".skip")?.addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main")?.focus();
  });
  window.addEventListener("paytrack:open-anomalies", (event) => showAnomalyCount(event.detail.count, event.detail.more));
  window.addEventListener("hashchange", () => { if (window.location.hash.startsWith("#/") || !window.location.hash) route(); });
  const saved = session.load();
  if (saved && session.CONSOLE_ROLES.includes(saved.role)) {
    startSession(saved.key, saved.role);
    // The key may have been revoked since: check it again, quietly keep going if it is fine.
    state.api.whoAmI().then((role) => {
      if (role !== state.role) { session.save(saved.key, role); state.role = role; route(); }
    }).catch((error) => { if (!(error instanceof ApiError && error.status === 401)) toast(errorText(error), "error"); });
  }
  render();
}

boot();

// The shop's zone as people say it ("中国标准时间", "China Standard Time"), its IANA id on hover.
function zoneName(zone) {
  try {
    const parts = new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en", { timeZone: zone, timeZoneName: "long" }).formatToParts(new Date());
    return parts.find((p) => p.type === "timeZoneName")?.value || zone;
  } catch {
    return zone;
  }
}

// The search box on every screen: an order number, trade number, e-mail or IP opens the orders
// list searched by it (the list detects which it is).
function globalSearch() {
  const input = h("input", { class: "input", type: "search", id: "global-search", name: "q", enterkeyhint: "search",
    placeholder: t("search.placeholder"), "aria-label": t("search.label"), autocomplete: "off" });
  return h("form", { class: "global-search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) navigate(`#/orders?q=${encodeURIComponent(q)}&range=30d`);
  } }, input, h("button", { type: "submit", class: "btn btn-secondary btn-small", "data-action": "global-search" }, t("action.search")));
}
