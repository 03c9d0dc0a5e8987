// The signed-in key lives in sessionStorage: this tab only, gone when the tab closes.
const KEY = "paytrack.key";
const ROLE = "paytrack.role";

export function load() {
  try {
    const key = sessionStorage.getItem(KEY);
    const role = sessionStorage.getItem(ROLE);
    return key && role ? { key, role } : null;
  } catch {
    return null;
  }
}

export function save(key, role) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, role);
}

export function clear() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
}

export const CONSOLE_ROLES = ["viewer", "operator", "admin"];
export const canAct = (role) => role === "operator" || role === "admin";
