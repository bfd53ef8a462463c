// "New from Braze": a connector's schema-drift report (GET admin/connectors/{id}/drift,
// docs/ADMIN_API.md): event types the mapping table does not know and properties it does not
// document, with their counts and first/last-seen dates, a reset (DELETE), and for each entry a
// link that opens the Playground with a synthetic event of that shape.
//
// The link carries the event in the Playground's URL fragment: `index.html#batch=` followed by
// the Currents batch (`{"events": [...]}`) as JSON, percent-encoded (encodeURIComponent). A
// fragment never leaves the browser, and the example holds no value Braze sent anyway: its
// property names and kinds come from the report, its values are placeholders ("string", 0,
// true, {}, []).

import { el, plural, when } from "./dom.js";

/** The placeholder value of each JSON kind in a synthetic example. */
export const PLACEHOLDERS = { string: "string", number: 0, boolean: true, object: {}, array: [] };

/** A Currents event with the entry's type and its example's property names and kinds. */
export function exampleEvent(entry) {
  const properties = {};
  const put = (name, kind) => Object.defineProperty(properties, name, {
    value: PLACEHOLDERS[kind] ?? null, enumerable: true, writable: true, configurable: true,
  });
  for (const [name, kind] of entry.example ?? []) put(name, kind);
  if (entry.field && !Object.hasOwn(properties, entry.field)) put(entry.field, entry.kind);
  const time = Math.floor((entry.last_seen_ms ?? Date.now()) / 1000);
  return {
    id: `example-${entry.field ?? "type"}`,
    event_type: entry.event_type,
    time,
    user: { user_id: "example-braze-user", external_user_id: "example-user" },
    properties,
  };
}

/** The Playground URL (relative to the page) that opens with `event` as its batch. */
export function playgroundHref(event) {
  return `./index.html#batch=${encodeURIComponent(JSON.stringify({ events: [event] }, null, 2))}`;
}

function seen(ms, key) {
  return el("td", { class: "small", "data-seen": key, "data-ms": String(ms), text: when(ms) });
}

function tryLink(entry) {
  const what = entry.field ? `${entry.event_type} with ${entry.field}` : entry.event_type;
  return el("a", {
    href: playgroundHref(exampleEvent(entry)), target: "_blank", rel: "noopener noreferrer",
    "data-example": entry.field ?? entry.event_type, "aria-label": `Try an example of ${what} in the Playground`,
    text: "Try in the Playground",
  });
}

function exampleText(entry) {
  const names = (entry.example ?? []).map(([name, kind]) => `${name} (${kind})`).join(", ");
  const more = entry.example_omitted ? `, and ${plural(entry.example_omitted, "more property", "more properties")}` : "";
  return names ? `${names}${more}` : "no properties";
}

function typeRow(t) {
  return el("tr", { "data-drift-entry": "type", "data-event-type": t.event_type, "data-count": String(t.count) },
    el("th", { scope: "row" }, el("code", { text: t.event_type }),
      el("div", { class: "muted small", text: `Example: ${exampleText(t)}` })),
    el("td", { class: "num", text: String(t.count) }),
    seen(t.first_seen_ms, "first"), seen(t.last_seen_ms, "last"),
    el("td", {}, tryLink(t)));
}

function fieldRow(f) {
  return el("tr", {
    "data-drift-entry": "field", "data-event-type": f.event_type, "data-field": f.field, "data-count": String(f.count),
  },
  el("th", { scope: "row" }, el("code", { text: f.field })),
  el("td", {}, el("code", { class: "small", text: f.event_type })),
  el("td", { "data-kind": f.kind ?? "", text: f.kind ?? "" }),
  el("td", { class: "num", text: String(f.count) }),
  seen(f.first_seen_ms, "first"), seen(f.last_seen_ms, "last"),
  el("td", {}, tryLink(f)));
}

function table(caption, headings, rows) {
  return el("table", { class: "data-table drift-table" },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows));
}

/** Renders the report into `box`; returns the number of entries shown. */
export function renderDrift(box, report) {
  const types = report?.types ?? [];
  const fields = report?.fields ?? [];
  const overflow = report?.overflow ?? 0;
  const parts = [];
  if (!types.length && !fields.length) {
    parts.push(el("p", { class: "muted", "data-drift-empty": "", text: "Nothing new: every event type and property Braze sent is in the mapping table." }));
  }
  if (types.length) {
    parts.push(table(`New event types (${types.length})`, ["Event type", "Events", "First seen", "Last seen", "Example"], types.map(typeRow)));
  }
  if (fields.length) {
    parts.push(table(`Properties the mapping table does not document (${fields.length})`,
      ["Property", "Event type", "Kind", "Events", "First seen", "Last seen", "Example"], fields.map(fieldRow)));
  }
  if (overflow) {
    const limits = report.limits ? ` (at most ${report.limits.types} types and ${report.limits.fields} properties are kept)` : "";
    parts.push(el("p", { class: "notice-box", "data-drift-overflow": String(overflow) },
      `${plural(overflow, "more occurrence")} did not fit in the report${limits}: reset it to record new ones.`));
  }
  box.replaceChildren(...parts);
  return types.length + fields.length;
}
