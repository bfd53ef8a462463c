// The connector options form and the advanced JSON textarea edit one document: the textarea's text
// is the source of truth; each control reads from it (syncForm) and writes back into it (formEdit).
// Field names are those of the connector document (README "Configuring a connector").

/** What the page starts with: the defaults spelled out, so the textarea shows what can change. */
export const DEFAULT_CONFIG = {
  naming: { profile: "braze", custom_event_names: true },
  identity: { include_anonymous: false },
  events: { forward_unknown: true },
  message_id: "connector",
};

/** translateBatch fills these in for the playground (src/wasm.rs); validateConfig must see them too. */
export function withPlaceholders(doc) {
  const filled = { ...doc };
  filled.token_sha256 ??= "0".repeat(64);
  filled.destinations ??= { playground: { write_key: "playground", region: "us" } };
  return filled;
}

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const section = (doc, key) => (isObject(doc[key]) ? doc[key] : (doc[key] = {}));

/** Parses the textarea: `{doc}` or `{syntaxError}` (text that is not a JSON object). */
export function readConfig(text) {
  if (text.trim() === "") return { doc: {} };
  try {
    const doc = JSON.parse(text);
    return isObject(doc) ? { doc } : { syntaxError: "the connector JSON must be an object ({...})" };
  } catch (e) {
    return { syntaxError: e.message };
  }
}

/** Builds the event-type checkboxes (one per known type) and the rename type list once the translator is loaded. */
export function buildTypeControls(knownTypes) {
  $("#types").replaceChildren(...knownTypes.map((type) => {
    const label = document.createElement("label");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: type, checked: true });
    label.append(box, " ", Object.assign(document.createElement("code"), { textContent: type }));
    return label;
  }));
  $("#override-type").replaceChildren(...knownTypes.map((type) => new Option(type, type)));
}

/** Sets every control from the document (defaults where a field is absent). */
export function syncForm(doc) {
  const naming = isObject(doc.naming) ? doc.naming : {};
  const identity = isObject(doc.identity) ? doc.identity : {};
  const events = isObject(doc.events) ? doc.events : {};
  for (const r of $$("input[name=profile]")) r.checked = r.value === (naming.profile ?? "braze");
  for (const r of $$("input[name=message-id]")) r.checked = r.value === (doc.message_id ?? "connector");
  $("#custom-event-names").checked = naming.custom_event_names !== false;
  $("#include-anonymous").checked = identity.include_anonymous === true;
  $("#forward-unknown").checked = events.forward_unknown !== false;
  const chosen = Array.isArray(events.include);
  for (const r of $$("input[name=selection]")) r.checked = r.value === (chosen ? "chosen" : "all");
  $("#types-box").hidden = !chosen;
  for (const box of $$("#types input")) box.checked = !chosen || events.include.includes(box.value);
  renderOverrides(isObject(naming.overrides) ? naming.overrides : {});
}

let shownOverrides = null;

function renderOverrides(overrides) {
  // Rebuild only on a real change, so focus stays where it is while someone edits a name.
  const key = JSON.stringify(overrides);
  if (key === shownOverrides) return;
  shownOverrides = key;
  $("#overrides").replaceChildren(...Object.entries(overrides).map(([type, name], i) => {
    const li = document.createElement("li");
    const id = `override-${i}`;
    const label = Object.assign(document.createElement("label"), { htmlFor: id });
    label.append(Object.assign(document.createElement("code"), { textContent: type }), " is sent as");
    const input = Object.assign(document.createElement("input"), { type: "text", id, value: String(name) });
    input.dataset.overrideType = type;
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "Remove" });
    remove.dataset.removeOverride = type;
    remove.setAttribute("aria-label", `Remove the rename of ${type}`);
    li.append(label, " ", input, " ", remove);
    return li;
  }));
}

/**
 * Applies the change of one control (the event's target) to the document, in place.
 * Returns false when the target is not a connector option.
 */
export function formEdit(doc, target) {
  const known = $$("#types input").map((b) => b.value);
  if (target.name === "profile") section(doc, "naming").profile = target.value;
  else if (target.name === "message-id") doc.message_id = target.value;
  else if (target.id === "custom-event-names") section(doc, "naming").custom_event_names = target.checked;
  else if (target.id === "include-anonymous") section(doc, "identity").include_anonymous = target.checked;
  else if (target.id === "forward-unknown") section(doc, "events").forward_unknown = target.checked;
  else if (target.name === "selection" && target.value === "all") delete section(doc, "events").include;
  else if (target.name === "selection" || target.closest?.("#types")) {
    const events = section(doc, "events");
    // Types the table does not know may be listed too (they are then forwarded): keep them.
    const extra = Array.isArray(events.include) ? events.include.filter((t) => !known.includes(t)) : [];
    events.include = [...$$("#types input").filter((b) => b.checked).map((b) => b.value), ...extra];
  } else if (target.dataset?.overrideType) {
    section(section(doc, "naming"), "overrides")[target.dataset.overrideType] = target.value;
  } else return false;
  return true;
}

/** Adds (or replaces) one rename; returns false when the name is empty. */
export function addOverride(doc, type, name) {
  if (name.trim() === "") return false;
  section(section(doc, "naming"), "overrides")[type] = name;
  return true;
}

export function removeOverride(doc, type) {
  const naming = section(doc, "naming");
  if (isObject(naming.overrides)) delete naming.overrides[type];
  if (isObject(naming.overrides) && Object.keys(naming.overrides).length === 0) delete naming.overrides;
}

/** Shows validateConfig's errors in the list under the textarea and at the matching fieldset. */
export function showConfigErrors(errors) {
  const box = $("#config-errors");
  box.hidden = errors.length === 0;
  $("ul", box).replaceChildren(...errors.map(({ field, message }) => {
    const li = document.createElement("li");
    li.dataset.field = field;
    li.append(Object.assign(document.createElement("code"), { textContent: field || "(document)" }), `: ${message}`);
    return li;
  }));
  $("#config").setAttribute("aria-invalid", String(errors.length > 0));
  for (const fieldset of $$("fieldset[data-config-field]")) {
    const keys = fieldset.dataset.configField.split(" ");
    const mine = errors.filter((e) => keys.some((k) => e.field === k || e.field.startsWith(`${k}.`)));
    const slot = $(".field-error", fieldset);
    slot.hidden = mine.length === 0;
    slot.textContent = mine.map((e) => `${e.field}: ${e.message}`).join(" · ");
    if (mine.length) slot.id ||= `err-${keys[0].replace(/\W/g, "-")}`;
    fieldset.classList.toggle("has-error", mine.length > 0);
    if (mine.length) fieldset.setAttribute("aria-describedby", slot.id);
    else fieldset.removeAttribute("aria-describedby");
  }
}
