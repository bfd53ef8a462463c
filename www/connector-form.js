// The create/edit connector form. It edits a copy of the config the Worker returned (its redacted
// view), so every option the form does not show (events, naming.overrides, message_id, library...)
// goes back unchanged. Write keys are write-only: an edit row shows the redacted key as a hint and
// sends it back as is (the Worker keeps the stored key) unless the operator types a new one.
// Validation is the Worker's (422 invalid_config, errors[].field): each error is shown at the
// control whose field path it names, with aria-invalid, and listed in a summary at the top.

import { $, $$, el } from "./dom.js";

export const REGIONS = [
  ["us", "US (api.segment.io)"],
  ["eu", "EU (events.eu1.segmentapis.com)"],
  ["auto", "auto (nearest to the request)"],
];
export const DEFAULT_RETENTION_HOURS = 168;

const form = () => $("#connector-form");
let base = {};
let mode = "create";
let rowSeq = 0;

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const clone = (v) => JSON.parse(JSON.stringify(v ?? {}));
/** `obj[key]` when `obj` has it as its own property: names typed in the form are data, and `__proto__` is a name. */
const own = (obj, key) => (isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined);
/**
 * A map of names typed in the form (destinations, routes): no prototype, so `__proto__` or
 * `constructor` are keys like any other (an object literal's `__proto__` setter would drop the row).
 */
const dataMap = () => Object.create(null);

/** A control with its label and an error slot; `describedBy` lists extra hint ids. */
function control(label, input, hint) {
  const id = input.id;
  const error = el("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const hintEl = hint ? el("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  input.setAttribute("aria-describedby", [hintEl?.id, error.id].filter(Boolean).join(" "));
  return el("div", { class: "field" }, el("label", { for: id, text: label }), input, hintEl, error);
}

function destinationRow({ name = "", region = "us", write_key: writeKey = "" } = {}, existing = false) {
  const n = ++rowSeq;
  const nameInput = el("input", {
    type: "text", id: `dest-${n}-name`, value: name, autocomplete: "off", spellcheck: false,
    readOnly: existing, "data-part": "name",
  });
  const region_ = el("select", { id: `dest-${n}-region`, "data-part": "region" },
    ...REGIONS.map(([v, label]) => new Option(label, v, false, v === region)));
  if (!REGIONS.some(([v]) => v === region)) region_.append(new Option(region, region, true, true));
  const key = el("input", {
    type: "text", id: `dest-${n}-key`, autocomplete: "off", spellcheck: false, "data-part": "write_key",
    placeholder: existing ? `unchanged (${writeKey})` : "Segment source write key",
  });
  key.dataset.redacted = existing ? writeKey : "";
  const remove = el("button", { type: "button", class: "link-button", text: "Remove this destination", "data-remove-row": "" });
  const row = el("fieldset", { class: "destination" },
    el("legend", { text: existing ? `Destination ${name}` : "New destination" }),
    el("div", { class: "inline-fields" },
      control("Name", nameInput, existing ? "Existing destinations keep their name: add a new one to rename." : null),
      control("Region", region_),
      control(existing ? "New write key (optional)" : "Write key", key,
        existing ? `Stored key ${writeKey}: leave empty to keep it.` : null)),
    remove);
  row.dataset.existing = String(existing);
  nameInput.addEventListener("input", () => {
    row.querySelector("legend").textContent = `New destination ${nameInput.value}`;
    refreshDestinationChoices();
  });
  return row;
}

function routeRow(value = "", destination = "") {
  const n = ++rowSeq;
  const valueInput = el("input", { type: "text", id: `route-${n}-value`, value, autocomplete: "off", spellcheck: false, "data-part": "value" });
  const dest = el("select", { id: `route-${n}-dest`, "data-part": "destination" });
  dest.dataset.want = destination;
  const remove = el("button", { type: "button", class: "link-button", text: "Remove this route", "data-remove-row": "" });
  return el("div", { class: "route inline-fields" }, control("Value", valueInput), control("Goes to destination", dest), remove);
}

function destinationNames() {
  return $$("#f-destinations .destination [data-part=name]").map((i) => i.value.trim()).filter(Boolean);
}

/** Keeps the default-destination and route selects in step with the destination names. */
function refreshDestinationChoices() {
  const names = destinationNames();
  const fill = (select, none) => {
    const want = select.dataset.want ?? select.value;
    select.replaceChildren(...(none ? [new Option(none, "")] : []), ...names.map((n) => new Option(n, n)));
    if (want && !names.includes(want)) select.append(new Option(`${want} (no such destination)`, want));
    select.value = want;
    delete select.dataset.want;
  };
  fill($("#f-default"), "(none: only routed events, or the single destination)");
  for (const s of $$("#f-routes [data-part=destination]")) fill(s, null);
}

function showRouting() {
  $("#f-routes-box").hidden = $("#f-routing-by").value === "";
}

/** Fills the form: `config` is the Worker's redacted view (edit) or null (create). */
export function openForm(kind, id = "", config = null) {
  mode = kind;
  base = clone(config);
  rowSeq = 0;
  clearErrors();
  const f = form();
  f.dataset.mode = kind;
  $("#f-id").value = id;
  $("#f-id").readOnly = kind === "edit";
  $("#f-description").value = typeof base.description === "string" ? base.description : "";
  const dests = isObject(base.destinations) ? base.destinations : {};
  const rows = Object.entries(dests).map(([name, d]) => destinationRow({ name, ...d }, true));
  if (!rows.length) rows.push(destinationRow({ name: "main" }));
  $("#f-destinations").replaceChildren(...rows);
  $("#f-default").dataset.want = typeof base.default_destination === "string" ? base.default_destination : "";
  const routing = isObject(base.routing) ? base.routing : null;
  $("#f-routing-by").value = routing?.by ?? "";
  $("#f-routes").replaceChildren(...Object.entries(isObject(routing?.routes) ? routing.routes : {}).map(([v, d]) => routeRow(v, d)));
  refreshDestinationChoices();
  showRouting();
  const profile = base.naming?.profile ?? "braze";
  for (const r of $$("input[name=f-profile]")) r.checked = r.value === profile;
  $("#f-anonymous").checked = base.identity?.include_anonymous === true;
  $("#f-retention").value = String(base.retention_hours ?? DEFAULT_RETENTION_HOURS);
  const alerts = isObject(base.alerts) ? base.alerts : {};
  const url = $("#f-alert-url");
  url.value = "";
  url.dataset.redacted = typeof alerts.webhook_url === "string" ? alerts.webhook_url : "";
  url.placeholder = url.dataset.redacted ? `Stored URL ${url.dataset.redacted}: leave empty to keep it.` : "https://hooks.slack.com/services/...";
  $("#f-alert-stalled").value = alerts.delivery_stalled_minutes ?? "";
  $("#f-alert-held").value = alerts.held_hours ?? "";
  $("#f-alert-quarantine").value = alerts.quarantine_per_hour ?? "";
  $("#f-alert-types").checked = alerts.new_event_types === true;
  $("#editor-title").textContent = kind === "edit" ? `Edit connector ${id}` : "New connector";
  $("#f-submit").textContent = kind === "edit" ? "Save changes" : "Create connector";
}

/** The id and the config to send: the loaded document with the form's fields written over it. */
export function readForm() {
  const config = clone(base);
  delete config.has_token;
  const description = $("#f-description").value.trim();
  if (description) config.description = description;
  else delete config.description;
  const oldDests = isObject(base.destinations) ? base.destinations : {};
  const destinations = dataMap();
  for (const row of $$("#f-destinations .destination")) {
    const name = row.querySelector("[data-part=name]").value.trim();
    const key = row.querySelector("[data-part=write_key]");
    const old = own(oldDests, name);
    const d = { ...(isObject(old) ? old : {}), region: row.querySelector("[data-part=region]").value };
    // An empty key on an existing destination sends its redacted form back: the Worker keeps the key.
    d.write_key = key.value.trim() || key.dataset.redacted || "";
    destinations[name] = d;
  }
  config.destinations = destinations;
  const def = $("#f-default").value;
  if (def) config.default_destination = def;
  else delete config.default_destination;
  const by = $("#f-routing-by").value;
  if (by) {
    const routes = dataMap();
    for (const r of $$("#f-routes .route")) {
      routes[r.querySelector("[data-part=value]").value] = r.querySelector("[data-part=destination]").value;
    }
    config.routing = { ...(isObject(base.routing) ? base.routing : {}), by, routes };
  } else delete config.routing;
  config.naming = { ...(isObject(base.naming) ? base.naming : {}), profile: $("input[name=f-profile]:checked")?.value ?? "braze" };
  config.identity = { ...(isObject(base.identity) ? base.identity : {}), include_anonymous: $("#f-anonymous").checked };
  const retention = $("#f-retention").value.trim();
  if (retention === "") delete config.retention_hours;
  else config.retention_hours = Number.isFinite(Number(retention)) ? Number(retention) : retention;
  readAlerts(config);
  return { id: $("#f-id").value.trim(), config, mode };
}

/** The form's alert fields written over the document's `alerts` section (removed when no rule is set). */
function readAlerts(config) {
  const number = (sel) => {
    const v = $(sel).value.trim();
    return v === "" ? undefined : (Number.isFinite(Number(v)) ? Number(v) : v);
  };
  const rules = {
    delivery_stalled_minutes: number("#f-alert-stalled"),
    held_hours: number("#f-alert-held"),
    quarantine_per_hour: number("#f-alert-quarantine"),
    new_event_types: $("#f-alert-types").checked || undefined,
  };
  const url = $("#f-alert-url");
  const webhook = url.value.trim() || url.dataset.redacted || "";
  const anyRule = Object.values(rules).some((v) => v !== undefined);
  if (!anyRule && !url.value.trim()) {
    delete config.alerts;
    return;
  }
  const alerts = { ...(isObject(base.alerts) ? base.alerts : {}), webhook_url: webhook };
  for (const [k, v] of Object.entries(rules)) {
    if (v === undefined) delete alerts[k];
    else alerts[k] = v;
  }
  config.alerts = alerts;
}

/** [{path, control}] for every control of the form, with the field path the Worker reports. */
function fieldControls() {
  const out = [
    { path: "id", control: $("#f-id") },
    { path: "description", control: $("#f-description") },
    { path: "default_destination", control: $("#f-default") },
    { path: "routing.by", control: $("#f-routing-by") },
    { path: "naming.profile", control: $("input[name=f-profile]:checked") ?? $("input[name=f-profile]") },
    { path: "identity.include_anonymous", control: $("#f-anonymous") },
    { path: "retention_hours", control: $("#f-retention") },
    { path: "alerts.webhook_url", control: $("#f-alert-url") },
    { path: "alerts.delivery_stalled_minutes", control: $("#f-alert-stalled") },
    { path: "alerts.held_hours", control: $("#f-alert-held") },
    { path: "alerts.quarantine_per_hour", control: $("#f-alert-quarantine") },
    { path: "alerts.new_event_types", control: $("#f-alert-types") },
  ];
  for (const row of $$("#f-destinations .destination")) {
    const name = row.querySelector("[data-part=name]").value.trim();
    out.push({ path: `destinations.${name}`, control: row.querySelector("[data-part=name]") });
    out.push({ path: `destinations.${name}.region`, control: row.querySelector("[data-part=region]") });
    out.push({ path: `destinations.${name}.write_key`, control: row.querySelector("[data-part=write_key]") });
  }
  for (const r of $$("#f-routes .route")) {
    out.push({ path: `routing.routes.${r.querySelector("[data-part=value]").value}`, control: r.querySelector("[data-part=value]") });
  }
  return out;
}

/** Containers that take an error no single control matches (e.g. `destinations`, `routing.routes`). */
const GROUPS = [
  ["destinations", "#f-destinations-group"],
  ["routing", "#f-routing-group"],
  ["naming", "#f-naming-group"],
  ["identity", "#f-identity-group"],
  ["alerts", "#f-alerts-group"],
];

export function clearErrors() {
  $("#form-errors").hidden = true;
  $("#form-errors").replaceChildren();
  for (const c of $$("#connector-form [aria-invalid]")) c.removeAttribute("aria-invalid");
  for (const p of $$("#connector-form .field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const g of $$("#connector-form .has-error")) g.classList.remove("has-error");
}

function addMessage(slot, text) {
  slot.hidden = false;
  slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
}

/**
 * Shows `errors` ([{field, message}]) at their controls (exact path, else the longest control path
 * the field starts with, else a group) and in the summary; focuses the summary. Returns the
 * number of errors placed at a control or group.
 */
export function showErrors(errors, summaryTitle = "The Worker refused the connector:") {
  clearErrors();
  const controls = fieldControls();
  const summary = $("#form-errors");
  const list = el("ul");
  let placed = 0;
  for (const e of errors) {
    const field = String(e.field ?? "");
    const exact = controls.find((c) => c.path === field);
    const prefix = controls.filter((c) => field.startsWith(`${c.path}.`)).sort((a, b) => b.path.length - a.path.length)[0];
    const target = exact ?? prefix;
    let focusTarget = null;
    if (target) {
      target.control.setAttribute("aria-invalid", "true");
      const slot = document.getElementById(`${target.control.id}-error`)
        ?? target.control.closest("fieldset, .field")?.querySelector(".field-error");
      if (slot) addMessage(slot, exact ? e.message : `${field}: ${e.message}`);
      target.control.closest("fieldset")?.classList.add("has-error");
      focusTarget = target.control;
      placed++;
    } else {
      const group = GROUPS.find(([p]) => field === p || field.startsWith(`${p}.`));
      if (group) {
        const box = $(group[1]);
        box.classList.add("has-error");
        addMessage(box.querySelector(":scope > .field-error:not([id])"), `${field}: ${e.message}`);
        focusTarget = box.querySelector("input, select, button");
        placed++;
      }
    }
    const item = el("li", { "data-field": field });
    const label = field && field !== "." ? `${field}: ` : "";
    if (focusTarget) {
      const link = el("a", { href: `#${focusTarget.id}`, text: `${label}${e.message}` });
      link.addEventListener("click", (ev) => {
        ev.preventDefault();
        focusTarget.focus();
      });
      item.append(link);
    } else item.textContent = `${label}${e.message}`;
    list.append(item);
  }
  summary.replaceChildren(el("p", {}, el("strong", { text: summaryTitle })), list);
  summary.hidden = false;
  summary.focus();
  return placed;
}

/** Wires the dynamic parts of the form (add/remove rows, routing toggle) once. */
export function initForm() {
  $("#f-add-destination").addEventListener("click", () => {
    const row = destinationRow({ name: "" });
    $("#f-destinations").append(row);
    refreshDestinationChoices();
    row.querySelector("input").focus();
  });
  $("#f-add-route").addEventListener("click", () => {
    const row = routeRow();
    $("#f-routes").append(row);
    refreshDestinationChoices();
    row.querySelector("input").focus();
  });
  $("#f-routing-by").addEventListener("change", showRouting);
  form().addEventListener("click", (ev) => {
    const remove = ev.target.closest("[data-remove-row]");
    if (!remove) return;
    const row = remove.closest(".destination, .route");
    const list = row.parentElement;
    row.remove();
    refreshDestinationChoices();
    (list.querySelector("input") ?? list.parentElement.querySelector("button"))?.focus();
  });
}
