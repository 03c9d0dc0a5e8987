// The admin API client: same origin by default, bearer key, errors as ApiError (never swallowed).
import { rememberChannelNames } from "./names.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;     // HTTP status, 0 when the server could not be reached
    this.code = code;         // the API's snake_case code (API.md), or network_error / bad_response
    this.details = details || {};
  }
}

function apiBase() {
  const meta = document.querySelector('meta[name="paytrack-api-base"]');
  const configured = meta && meta.content.trim();
  if (configured) return configured.replace(/\/+$/, "");
  const path = window.location.pathname;
  const at = path.lastIndexOf("/admin");
  return window.location.origin + (at >= 0 ? path.slice(0, at) : "");
}

// One path segment: like encodeURIComponent, but ":" stays (a valid path character; run ids are
// "alipay-main:2026-11-24" and the API does not decode %3A in them).
export function pathPart(value) {
  return encodeURIComponent(value).replace(/%3A/gi, ":");
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export class Api {
  constructor(key, onUnauthenticated) {
    this.key = key;
    this.base = apiBase();
    this.onUnauthenticated = onUnauthenticated;
  }

  async request(method, path, { params, body, signal } = {}) {
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.base + path + query(params), {
        method, headers, signal, cache: "no-store", credentials: "omit",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error && error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", String(error && error.message || error), {});
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch {
        throw new ApiError(response.status, "bad_response", text.slice(0, 300), {});
      }
    }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const failure = new ApiError(response.status, err.code || `http_${response.status}`,
        err.message || response.statusText || "request failed", err.details);
      if (response.status === 401 && this.onUnauthenticated) this.onUnauthenticated(failure);
      throw failure;
    }
    if (data && data.channel_names) rememberChannelNames(data.channel_names);
    return { status: response.status, data };
  }

  async get(path, params, signal) { return (await this.request("GET", path, { params, signal })).data; }
  async post(path, body) { return (await this.request("POST", path, { body })).data; }
  async postWithStatus(path, body) { return this.request("POST", path, { body }); }

  // The key's role, from GET /admin/me (any valid key may ask).
  async whoAmI() {
    return (await this.get("/admin/me")).role;
  }
}
