// The operator Console: sign in with the admin token, run connectors (create, edit, rotate the
// token, pause/resume, delete), watch their delivery stats, see what Braze sends that the mapping
// table does not describe ("New from Braze") and browse/replay their quarantine, all through the
// Worker's admin API (docs/ADMIN_API.md, same origin). No framework; every
// result is announced in an aria-live region; a 401 anywhere returns to sign-in.

import { AdminError, api, onUnauthorized, session } from "./admin-api.js";
import { clearErrors, initForm, openForm, readForm, showErrors } from "./connector-form.js";
import { $, $$, el, plural, when } from "./dom.js";
import { renderAlerts } from "./alerts-view.js";
import { renderDrift } from "./drift-view.js";
import { initQuarantine, loadQuarantine, resetQuarantine } from "./quarantine-view.js";
import { renderStats } from "./stats-view.js";

/** What the Worker said about a route the Console needs but the Worker does not have yet. */
const ROUTE_MISSING = "this Worker does not have this admin route yet (404 not_found)";

let current = null; // {id, config | null}
let listAvailable = true;

// ---- messages ---------------------------------------------------------------------------------

function say(message) {
  $("#notice").textContent = message;
}

function showAppError(message) {
  const banner = $("#app-error");
  banner.hidden = !message;
  banner.textContent = message ?? "";
  if (message) banner.focus();
}

/** The one handler of failed calls outside forms: 401 is handled by onUnauthorized. */
function fail(e) {
  if (e instanceof AdminError && e.status === 401) return;
  if (!(e instanceof AdminError)) console.error(e);
  const text = e instanceof AdminError
    ? (e.routeMissing ? ROUTE_MISSING : `${e.code}: ${e.message}`)
    : String(e?.message ?? e);
  showAppError(`Failed: ${text}`);
}

const guard = (fn) => (...args) => {
  showAppError(null);
  return Promise.resolve().then(() => fn(...args)).catch(fail);
};

// ---- sign-in ----------------------------------------------------------------------------------

function showSignIn(message) {
  $("#app").hidden = true;
  $("#session").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").hidden = !message;
  $("#signin-error").textContent = message ?? "";
  $("#admin-token").setAttribute("aria-invalid", String(Boolean(message)));
  $("#admin-token").value = "";
  hideToken();
  $("#admin-token").focus();
  document.body.dataset.view = "signin";
}

async function showApp() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#session").hidden = false;
  document.body.dataset.view = "app";
  await loadConnectors();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("connector");
  if (wanted) await openConnector(wanted);
}

onUnauthorized(() => {
  session.clear();
  current = null;
  showSignIn("The Worker refused the admin token (401 unauthorized): sign in again.");
});

async function signIn(token) {
  // Any authenticated admin call proves the token; the list is the natural one. A Worker that
  // has no list route yet answers 404 not_found, which still means the token was accepted
  // (authentication comes before routing).
  try {
    await api.listConnectors(token);
  } catch (e) {
    if (!(e instanceof AdminError && e.routeMissing)) throw e;
  }
  session.set(token);
  $("#admin-token").value = "";
  say("Signed in.");
  await showApp();
}

function signOut() {
  session.clear();
  current = null;
  history.replaceState(null, "", location.pathname + location.search);
  $("#connectors").replaceChildren();
  $("#detail").hidden = true;
  $("#editor").hidden = true;
  resetQuarantine();
  showSignIn(null);
  say("Signed out: the admin token is forgotten.");
}

// ---- connectors list --------------------------------------------------------------------------

const sum = (v) => (typeof v === "number" ? v : Object.values(v ?? {}).reduce((a, b) => a + Number(b || 0), 0));

function lastErrorText(e) {
  if (!e) return "none";
  if (typeof e === "string") return e;
  return `${e.code ?? "error"}${e.status ? ` (HTTP ${e.status})` : ""}${e.at_ms ? `, ${when(e.at_ms)}` : ""}`;
}

/** A list row's state: the stored document's (unreadable or invalid) before paused/active. */
function rowState(c) {
  if (c.unavailable) return { text: "Unreadable", badge: "badge-warn", title: "KV could not be read just now: refresh to try again" };
  if (c.misconfigured) return { text: "Misconfigured", badge: "badge-error", title: "the stored document does not parse or validate: edit or delete it" };
  return c.paused ? { text: "Paused", badge: "badge-paused" } : { text: "Active", badge: "badge-active" };
}

function connectorRow(c) {
  const h = c.health ?? {};
  const state = rowState(c);
  const open = el("button", { type: "button", class: "link-button", text: c.id, "data-open": c.id });
  const dests = (c.destinations ?? []).map((d) => `${d.name} (${d.region})`).join(", ");
  return el("tr", { "data-connector": c.id, "data-paused": String(Boolean(c.paused)) },
    el("th", { scope: "row" }, open, c.description ? el("div", { class: "muted small", text: c.description }) : null),
    el("td", {}, el("span", { class: `badge ${state.badge}`, text: state.text, ...(state.title ? { title: state.title } : {}) })),
    el("td", { class: "small", text: dests }),
    el("td", { class: "num", "data-health": "delivered", text: String(h.delivered ?? 0) }),
    el("td", { class: "num", "data-health": "quarantined", text: String(sum(h.quarantined)) }),
    el("td", { class: "num", "data-health": "held", text: String(sum(h.held)) }),
    el("td", { class: "small", "data-health": "last_success", text: when(h.last_success_ms) }),
    el("td", { class: "small", "data-health": "last_error", text: lastErrorText(h.last_error) }));
}

async function loadConnectors() {
  try {
    await renderConnectors();
  } finally {
    // A counter tests (and anything else) can wait on: the list shown is the one just loaded.
    document.body.dataset.listLoads = String(Number(document.body.dataset.listLoads ?? 0) + 1);
  }
}

async function renderConnectors() {
  const box = $("#connectors");
  let res;
  try {
    res = await api.listConnectors();
    listAvailable = true;
  } catch (e) {
    if (!(e instanceof AdminError && e.routeMissing)) throw e;
    listAvailable = false;
    box.replaceChildren(el("p", { class: "notice-box", "data-missing": "list" },
      "This Worker cannot list connectors yet (", el("code", { text: "GET /admin/connectors" }),
      " answered 404). Open a connector by its id below."));
    return;
  }
  const list = res?.connectors ?? [];
  if (!list.length) {
    box.replaceChildren(el("p", { class: "muted", text: "No connectors yet: create the first one." }));
    return;
  }
  box.replaceChildren(el("table", { class: "data-table" },
    el("caption", { class: "visually-hidden", text: "Connectors and their delivery health" }),
    el("thead", {}, el("tr", {}, ...["Connector", "State", "Destinations", "Delivered", "Quarantined", "Held", "Last success", "Last error"]
      .map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, list.map(connectorRow))));
}

// ---- one connector ----------------------------------------------------------------------------

function describeConfig(config) {
  if (!config) {
    return el("p", { class: "notice-box", "data-missing": "config" },
      "The configuration is not available: ", ROUTE_MISSING, ". Stats and quarantine still work.");
  }
  const dests = Object.entries(config.destinations ?? {});
  const routing = config.routing
    ? `by ${config.routing.by}: ${Object.entries(config.routing.routes ?? {}).map(([v, d]) => `${v} → ${d}`).join(", ")}`
    : "none";
  const item = (term, value) => [el("dt", { text: term }), el("dd", {}, value)];
  return el("dl", { class: "config-summary" },
    config.description ? item("Description", config.description) : null,
    item("Destinations", el("ul", { class: "plain" }, dests.map(([n, d]) => el("li", {},
      el("strong", { text: n }), ` · ${d.region} · write key `, el("code", { "data-write-key": n, text: d.write_key ?? "" }))))),
    item("Default destination", config.default_destination ?? "(none)"),
    item("Routing", routing),
    item("Naming profile", config.naming?.profile ?? "braze"),
    item("Anonymous users", config.identity?.include_anonymous ? "forwarded" : "filtered"),
    item("Retention", `${config.retention_hours ?? 168} hours`));
}

function showDetailState() {
  const paused = Boolean(current?.config?.paused);
  const known = Boolean(current?.config);
  $("#detail-id").textContent = current.id;
  $("#detail-state").textContent = known ? (paused ? "Paused" : "Active") : "";
  $("#detail-state").className = `badge ${paused ? "badge-paused" : "badge-active"}`;
  $("#detail-state").hidden = !known;
  $("#pause").hidden = paused;
  $("#resume").hidden = !paused;
  $("#detail-config").replaceChildren(describeConfig(current.config));
}

async function loadStats() {
  const stats = await api.stats(current.id);
  renderStats($("#stats"), stats, Number($("#stats-range").value));
  document.body.dataset.statsLoads = String(Number(document.body.dataset.statsLoads ?? 0) + 1);
}

async function loadDrift() {
  try {
    const shown = renderDrift($("#drift"), await api.drift(current.id));
    $("#drift-count").textContent = shown ? `(${plural(shown, "entry", "entries")})` : "";
    $("#drift-reset").disabled = !shown;
  } catch (e) {
    if (!(e instanceof AdminError && e.routeMissing)) throw e;
    $("#drift").replaceChildren(el("p", { class: "notice-box", "data-missing": "drift" }, ROUTE_MISSING));
    $("#drift-reset").disabled = true;
  } finally {
    document.body.dataset.driftLoads = String(Number(document.body.dataset.driftLoads ?? 0) + 1);
  }
}

async function loadAlerts() {
  try {
    const shown = renderAlerts($("#alerts"), await api.alerts(current.id), Boolean(current?.config?.alerts));
    const firing = $$("[data-firing='true']", $("#alerts")).length;
    $("#alerts-count").textContent = shown ? `(${firing} firing)` : "";
  } catch (e) {
    if (!(e instanceof AdminError && e.routeMissing)) throw e;
    $("#alerts").replaceChildren(el("p", { class: "notice-box", "data-missing": "alerts" }, ROUTE_MISSING));
  } finally {
    document.body.dataset.alertsLoads = String(Number(document.body.dataset.alertsLoads ?? 0) + 1);
  }
}

async function resetDrift() {
  if (!window.confirm(`Reset what ${current.id} recorded as new from Braze? The report starts again from the next batch; the stats are kept.`)) return;
  await api.resetDrift(current.id);
  await loadDrift();
  say(`The report of what is new from Braze for ${current.id} is reset.`);
}

async function openConnector(id, { focus = true } = {}) {
  let config = null;
  try {
    config = (await api.getConnector(id)).config ?? null;
  } catch (e) {
    if (!(e instanceof AdminError && e.routeMissing)) throw e;
  }
  current = { id, config };
  history.replaceState(null, "", `#connector=${encodeURIComponent(id)}`);
  $("#editor").hidden = true;
  $("#detail").hidden = false;
  showDetailState();
  resetQuarantine();
  await Promise.all([loadStats(), loadDrift(), loadAlerts(), loadQuarantine(id)]);
  if (focus) $("#detail-title").focus();
  say(`Connector ${id} loaded.`);
}

async function refreshDetail() {
  await Promise.all([loadConnectors(), loadStats(), loadDrift(), loadAlerts(), loadQuarantine(current.id)]);
  say(`Connector ${current.id} refreshed.`);
}

// ---- token shown once -------------------------------------------------------------------------

function showToken(id, token) {
  $("#token-connector").textContent = id;
  $("#new-token").value = token;
  $("#endpoint-url").value = new URL(`v1/currents/${encodeURIComponent(id)}`, document.baseURI).href;
  $("#copy-status").textContent = "";
  $("#token-panel").hidden = false;
  $("#token-title").focus();
}

function hideToken() {
  $("#new-token").value = "";
  $("#token-panel").hidden = true;
}

async function copyToken() {
  const input = $("#new-token");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand("copy");
  }
  $("#copy-status").textContent = "Token copied to the clipboard.";
}

// ---- actions ----------------------------------------------------------------------------------

function startCreate() {
  hideToken();
  openForm("create");
  $("#detail").hidden = true;
  $("#editor").hidden = false;
  $("#f-id").focus();
}

function startEdit() {
  if (!current.config) {
    showAppError(`Cannot edit: ${ROUTE_MISSING}.`);
    return;
  }
  openForm("edit", current.id, current.config);
  $("#editor").hidden = false;
  $("#f-description").focus();
}

async function submitForm(ev) {
  ev.preventDefault();
  const { id, config, mode } = readForm();
  if (mode === "create" && !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    showErrors([{ field: "id", message: "Use 1 to 64 letters, digits, - or _." }], "Check the connector:");
    return;
  }
  clearErrors();
  try {
    if (mode === "create") {
      const res = await api.createConnector(id, config);
      $("#editor").hidden = true;
      await loadConnectors();
      await openConnector(res.id ?? id, { focus: false });
      showToken(res.id ?? id, res.token);
      say(`Connector ${id} created. Its bearer token is shown once below.`);
    } else {
      const res = await api.updateConnector(id, config);
      current.config = res.config ?? current.config;
      $("#editor").hidden = true;
      showDetailState();
      await loadConnectors();
      $("#detail-title").focus();
      say(`Connector ${id} saved.`);
    }
  } catch (e) {
    if (!(e instanceof AdminError) || e.status === 401) throw e;
    if (e.status === 422 && e.errors.length) showErrors(e.errors);
    else if (e.code === "connector_exists") showErrors([{ field: "id", message: `A connector named ${id} already exists.` }]);
    else showErrors([{ field: ".", message: e.routeMissing ? ROUTE_MISSING : `${e.code}: ${e.message}` }], "The Worker refused:");
  }
}

async function rotate() {
  if (!window.confirm(`Rotate the bearer token of ${current.id}? Braze's current token stops working at once: update the Current in Braze with the new one.`)) return;
  const res = await api.rotateToken(current.id);
  showToken(current.id, res.token);
  say(`New token for ${current.id}: the old one is refused from now on.`);
}

async function setPaused(paused) {
  const res = paused ? await api.pause(current.id) : await api.resume(current.id);
  current.config = res?.config ?? { ...(current.config ?? {}), paused };
  showDetailState();
  // Focus the button that undoes it at once, not after the list has been reloaded.
  (paused ? $("#resume") : $("#pause")).focus();
  say(paused ? `Connector ${current.id} paused: events are accepted and held.` : `Connector ${current.id} resumed: held events are delivered.`);
  await loadConnectors();
}

async function remove() {
  const id = current.id;
  const question = `Delete connector ${id}? Braze's requests to it will be refused (404); queued events are held, then quarantined after the retention. A connector created again under the id ${id} is a new connector: it never sends this one's events (they go to quarantine as connector_replaced, kept under this connector's generation) and starts with empty stats and quarantine.`;
  if (!window.confirm(question)) return;
  await api.deleteConnector(id);
  current = null;
  history.replaceState(null, "", location.pathname + location.search);
  $("#detail").hidden = true;
  $("#editor").hidden = true;
  await loadConnectors();
  say(`Connector ${id} deleted.`);
  $("#new-connector").focus();
}

// ---- wiring -----------------------------------------------------------------------------------

function init() {
  initForm();
  initQuarantine(say, fail);
  $("#signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("#admin-token").value.trim();
    if (!token) {
      showSignIn("Enter the admin token.");
      return;
    }
    signIn(token).catch((e) => {
      if (e instanceof AdminError && e.status === 401) return; // onUnauthorized showed sign-in
      showSignIn(`Could not sign in: ${e.code ?? "error"}: ${e.message}`);
    });
  });
  $("#signout").addEventListener("click", signOut);
  $("#new-connector").addEventListener("click", startCreate);
  $("#refresh-connectors").addEventListener("click", guard(loadConnectors));
  $("#connectors").addEventListener("click", guard(async (ev) => {
    const b = ev.target.closest("[data-open]");
    if (b) await openConnector(b.dataset.open);
  }));
  $("#open-form").addEventListener("submit", guard(async (ev) => {
    ev.preventDefault();
    await openConnector($("#open-id").value.trim());
  }));
  $("#connector-form").addEventListener("submit", guard(submitForm));
  $("#f-cancel").addEventListener("click", () => {
    $("#editor").hidden = true;
    if (current) {
      $("#detail").hidden = false;
      $("#edit").focus();
    } else $("#new-connector").focus();
  });
  $("#refresh-detail").addEventListener("click", guard(refreshDetail));
  $("#stats-range").addEventListener("change", guard(loadStats));
  $("#edit").addEventListener("click", startEdit);
  $("#rotate").addEventListener("click", guard(rotate));
  $("#pause").addEventListener("click", guard(() => setPaused(true)));
  $("#resume").addEventListener("click", guard(() => setPaused(false)));
  $("#delete").addEventListener("click", guard(remove));
  $("#drift-reset").addEventListener("click", guard(resetDrift));
  $("#copy-token").addEventListener("click", guard(copyToken));
  $("#token-done").addEventListener("click", () => {
    hideToken();
    say("The token is hidden and will not be shown again.");
    (current ? $("#detail-title") : $("#new-connector")).focus();
  });

  if (session.get()) showApp().catch(fail);
  else showSignIn(null);
  document.body.dataset.ready = "true";
}

init();
