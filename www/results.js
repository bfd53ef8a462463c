// Renders a translateBatch outcome (pkg/index.d.ts `Outcome`) as the summary and one list item per
// input event, in input order. Every item carries its outcome in data- attributes and forwarded
// events their Segment payload as pretty JSON in a <pre>, so people and tests read the same DOM.
// Payloads arrive as JSON text and are shown as such (indented, never re-serialised: json-text.js),
// so a number JavaScript cannot hold (9007199254740993, 1e400) reads as the Worker sends it, and
// a value nested thousands of levels deep is shown (its levels past the 100th as raw text).
// What the mapping table does not describe (the outcome's `drift`: new event types, undocumented
// properties per type) is marked on the events that carry it: a "new type" badge
// (data-drift-type) with how such a type is placed (data-drift="placement"), and the undocumented
// properties named under the event (data-drift-field).

import { prettyJson } from "./json-text.js";

export { prettyJson };

/** Why an event was filtered: what the connector chose (docs/DECISIONS.md "Translation"). */
const FILTER_HINTS = {
  not_selected: "Known type that is not in events.include.",
  unknown_type: "Type the translator does not know, and events.forward_unknown is off.",
  anonymous_user: "No external_user_id: turn on \"Forward anonymous users\" to send it with anonymousId only.",
  no_identity: "Neither external_user_id nor user_id: Segment requires one of them.",
  no_route: "No routing rule matched and there is no default destination.",
};

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

/** Text with a line-break opportunity after each dot, so long type names wrap between their parts. */
function dotted(tag, cls, text) {
  const node = el(tag, cls ? { class: cls } : {});
  text.split(".").forEach((part, i, parts) => {
    node.append(i < parts.length - 1 ? `${part}.` : part);
    if (i < parts.length - 1) node.append(document.createElement("wbr"));
  });
  return node;
}

const batches = (n) => `${n} Segment batch${n === 1 ? "" : "es"}`;

/** One row per input event, sorted by index, whatever its outcome. */
export function eventRows(outcome) {
  const rows = [];
  for (const batch of outcome.batches) {
    for (const e of batch.events) {
      const track = JSON.parse(e.json);
      rows.push({
        ...e, name: track.event, properties: Object.keys(track.properties ?? {}), outcome: "forwarded",
        destination: batch.destination, region: batch.region,
      });
    }
  }
  for (const e of outcome.filtered) rows.push({ ...e, outcome: "filtered" });
  for (const e of outcome.quarantined) rows.push({ ...e, outcome: "quarantined" });
  return rows.sort((a, b) => a.index - b.index);
}

function reasonCounts(list) {
  const counts = new Map();
  for (const e of list) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${reason} ${n}`).join(", ");
}

/** What the outcome's drift report says, by event type: `{types: Set, fields: Map(type → [{field, kind}])}`. */
export function driftMarks(outcome) {
  const types = new Set((outcome.drift?.types ?? []).map((t) => t.event_type));
  const fields = new Map();
  for (const f of outcome.drift?.fields ?? []) {
    if (!fields.has(f.event_type)) fields.set(f.event_type, []);
    fields.get(f.event_type).push({ field: f.field, kind: f.kind });
  }
  return { types, fields };
}

/** The drift marks of one row: whether its type is new, and its undocumented properties. */
function rowDrift(row, marks) {
  // Events that failed validation are not looked at (only too-large ones were valid).
  if (row.outcome === "quarantined" && row.reason !== "event_too_large") return { newType: false, fields: [] };
  const fields = marks.fields.get(row.event_type) ?? [];
  const present = row.properties ? new Set(row.properties) : null;
  return { newType: marks.types.has(row.event_type), fields: present ? fields.filter((f) => present.has(f.field)) : fields };
}

function driftLine(outcome) {
  const types = outcome.drift?.types?.length ?? 0;
  const fields = outcome.drift?.fields?.length ?? 0;
  if (!types && !fields) return null;
  const parts = [types ? `${types} event type${types === 1 ? "" : "s"}` : null,
    fields ? `${fields} ${fields === 1 ? "property" : "properties"}` : null].filter(Boolean);
  return el("p", { class: "drift-line", "data-drift": "summary" },
    `New from Braze: ${parts.join(" and ")} the mapping table does not describe (marked below).`);
}

/** The counts line (the aria-live region): received, forwarded, filtered, quarantined. */
export function renderSummary(target, outcome) {
  const { received, accepted, filtered, quarantined } = outcome.summary;
  const count = (name, n, label, extra) =>
    el("li", { class: `count count-${name}` },
      el("strong", { "data-count": name, text: String(n) }), ` ${label}`,
      extra ? el("span", { class: "muted", text: ` (${extra})` }) : null);
  target.replaceChildren(el("ul", { class: "counts" },
    count("received", received, "received"),
    count("forwarded", accepted, "forwarded", batches(outcome.summary.batches)),
    count("filtered", filtered, "filtered", reasonCounts(outcome.filtered)),
    count("quarantined", quarantined, "quarantined", reasonCounts(outcome.quarantined))), driftLine(outcome));
}

function forwardedBody(row) {
  return [
    el("p", { class: "meta" }, `To destination `, el("code", { text: row.destination }),
      ` (${row.region.toUpperCase()}), messageId `, el("code", { text: row.message_id })),
    el("pre", { class: "payload", tabIndex: 0, "aria-label": `Segment payload of event ${row.index}` },
      prettyJson(row.json)),
  ];
}

function problemBody(row) {
  const hint = row.outcome === "filtered" ? FILTER_HINTS[row.reason] : row.detail;
  const body = [el("p", { class: "reason" }, "Reason ", el("code", { class: "reason-code", text: row.reason }),
    hint ? el("span", { class: "reason-detail", text: `: ${hint}` }) : null)];
  if (row.outcome === "quarantined") {
    body.push(el("p", { class: "meta", text: "Kept for replay as received:" }),
      el("pre", { class: "raw", tabIndex: 0, "aria-label": `Raw event ${row.index}` }, prettyJson(row.raw)));
  }
  return body;
}

function driftNote(fields) {
  const note = el("p", { class: "drift-note" }, "Not described by the mapping table: ");
  fields.forEach(({ field, kind }, i) => {
    if (i) note.append(", ");
    note.append(el("code", { "data-drift-field": field, text: field }), kind ? ` (${kind})` : "");
  });
  return note;
}

/** How a type the table does not know was placed (docs/DECISIONS.md, "Unknown types"). */
function unknownTypeNote() {
  const code = (text) => el("code", { text });
  return el("p", { class: "drift-note", "data-drift": "placement" },
    "Not in the mapping table: named by its event type and placed by the table's general rule: ",
    code("email_address"), " → ", code("context.traits.email"), ", ",
    code("user_phone_number"), " or ", code("to_phone_number"), " → ", code("context.traits.phone"), ", ",
    code("device_model"), " → ", code("context.device.model"),
    "; never-forwarded fields dropped; every other property stays in ", code("properties"), ".");
}

function eventItem(row, open, marks) {
  const name = row.outcome === "forwarded" ? row.name : null;
  const drift = rowDrift(row, marks);
  const item = el("li", {
    class: `event outcome-${row.outcome}`,
    "data-index": String(row.index),
    "data-outcome": row.outcome,
    "data-event-type": row.event_type ?? "",
  });
  if (name != null) item.dataset.eventName = name;
  if (row.reason) item.dataset.reason = row.reason;
  if (drift.newType) item.dataset.driftType = "true";
  const summary = el("summary", {},
    el("span", { class: "index", text: `#${row.index}` }),
    dotted("code", "type", row.event_type ?? "(no event_type)"),
    el("span", { class: `badge badge-${row.outcome}`, text: row.outcome }),
    drift.newType ? el("span", { class: "badge badge-drift", "data-drift": "type", text: "new type", title: "The mapping table does not know this event type" }) : null,
    drift.fields.length ? el("span", { class: "badge badge-drift", "data-drift": "fields", text: `${drift.fields.length} new ${drift.fields.length === 1 ? "property" : "properties"}` }) : null,
    name != null ? el("span", { class: "name" }, "→\u00a0", dotted("strong", null, name)) : el("code", { class: "name", text: row.reason }));
  const body = name != null ? forwardedBody(row) : problemBody(row);
  const notes = [
    drift.newType && name != null ? unknownTypeNote() : null,
    drift.fields.length ? driftNote(drift.fields) : null,
  ].filter(Boolean);
  const details = el("details", { open }, summary, ...notes, ...body);
  item.append(details);
  return item;
}

/** Replaces the list with one item per event; `show` hides the other outcomes. */
export function renderEvents(list, outcome, { show = "all", open = false } = {}) {
  const marks = driftMarks(outcome);
  const items = eventRows(outcome).map((row) => eventItem(row, open, marks));
  list.replaceChildren(...items);
  applyFilter(list, show);
}

export function applyFilter(list, show) {
  for (const item of list.children) item.hidden = show !== "all" && item.dataset.outcome !== show;
}
