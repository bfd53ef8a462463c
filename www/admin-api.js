// The admin API client (docs/ADMIN_API.md): every call carries `Authorization: Bearer <admin token>`,
// URLs are resolved against the page (`admin/...` relative to document.baseURI), so the Console works
// from the Worker's root and from a subpath. Errors are thrown as AdminError with the problem's
// stable `code` (and `errors[]` for 422 invalid_config).

/** sessionStorage key of the admin token: gone when the tab closes; never localStorage or cookies. */
export const TOKEN_KEY = "currents-relay.admin-token";

export const session = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A failed admin call: HTTP `status`, problem `code`, human `message`, `errors` [{field, message}]. */
export class AdminError extends Error {
  constructor(status, problem) {
    const code = problem?.code ?? (status === 0 ? "network_error" : `http_${status}`);
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }

  /** Whether the Worker has no such route (yet): 404 `not_found`, as opposed to `unknown_connector`. */
  get routeMissing() {
    return this.status === 404 && this.code === "not_found";
  }
}

/** Listeners called with the AdminError when the Worker answers 401 (the page goes back to sign-in). */
const unauthorizedListeners = new Set();
export const onUnauthorized = (fn) => unauthorizedListeners.add(fn);

/** `admin/<path>` resolved against the page, with `query` ({name: value}, undefined values left out). */
export function adminUrl(path, query = {}) {
  const url = new URL(`admin/${path}`, document.baseURI);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  return url;
}

/**
 * One admin call; resolves to the parsed JSON body (null for 204), or with `text: true` to the
 * body's text as the Worker sent it; throws AdminError.
 */
export async function call(method, path, { query, body, token = session.get(), text: asText = false } = {}) {
  const headers = { authorization: `Bearer ${token ?? ""}`, accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(adminUrl(path, query), init);
  } catch (e) {
    throw new AdminError(0, { detail: `the Worker could not be reached (${e.message})` });
  }
  const text = await res.text();
  if (res.ok && asText) return text;
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = new AdminError(res.status, json ?? { detail: text.slice(0, 200) || res.statusText });
    if (res.status === 401) for (const fn of unauthorizedListeners) fn(err);
    throw err;
  }
  return json;
}

const enc = encodeURIComponent;

/** The admin routes of docs/ADMIN_API.md, one function each. */
export const api = {
  listConnectors: (token) => call("GET", "connectors", { token }),
  getConnector: (id) => call("GET", `connectors/${enc(id)}`),
  createConnector: (id, config) => call("POST", "connectors", { body: { id, config } }),
  updateConnector: (id, config) => call("PUT", `connectors/${enc(id)}`, { body: config }),
  deleteConnector: (id) => call("DELETE", `connectors/${enc(id)}`),
  rotateToken: (id) => call("POST", `connectors/${enc(id)}/rotate-token`),
  pause: (id) => call("POST", `connectors/${enc(id)}/pause`),
  resume: (id) => call("POST", `connectors/${enc(id)}/resume`),
  stats: (id) => call("GET", `connectors/${enc(id)}/stats`),
  drift: (id) => call("GET", `connectors/${enc(id)}/drift`),
  alerts: (id) => call("GET", `connectors/${enc(id)}/alerts`),
  resetDrift: (id) => call("DELETE", `connectors/${enc(id)}/drift`),
  quarantine: (connector, reason) => call("GET", "quarantine", { query: { connector, reason } }),
  quarantineObject: (key) => call("GET", "quarantine/object", { query: { key } }),
  /** The quarantine document as its JSON text: raw events are shown as Braze sent them. */
  quarantineObjectText: (key) => call("GET", "quarantine/object", { query: { key }, text: true }),
  replayKey: (key) => call("POST", "quarantine/replay", { body: { key } }),
};
