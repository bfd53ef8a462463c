// The quarantine browser: a connector's objects (GET admin/quarantine?connector=&reason=), one
// object as indented JSON text (GET admin/quarantine/object?key=; json-text.js: numbers as stored,
// containers deeper than 100 levels as their raw text, so any event Braze sent can be read), and replay: one object, or every
// listed object one by one (POST admin/quarantine/replay {"key"}) with a <progress> bar and the
// running totals, so a long replay shows where it is and a failure stops at the object it names.

import { api } from "./admin-api.js";
import { $, el, plural } from "./dom.js";
import { MAX_INDENT_DEPTH, indentJson } from "./json-text.js";

let objects = [];
let connectorId = null;
let announce = () => {};

const reasonsText = (reasons) => Object.entries(reasons ?? {}).map(([k, v]) => `${k} × ${v}`).join(", ");

function row(o, i) {
  const inspect = el("button", { type: "button", text: "Inspect", "data-inspect": o.key, "aria-label": `Inspect object ${i + 1}` });
  const replay = el("button", { type: "button", text: "Replay", "data-replay": o.key, "aria-label": `Replay object ${i + 1}` });
  return el("tr", { "data-key": o.key, "data-replayed": o.replayed_at ? "true" : "false" },
    el("td", {}, new Date(o.received_at).toLocaleString()),
    el("td", { class: "reasons" }, reasonsText(o.reasons)),
    el("td", { class: "num", text: String(o.events) }),
    el("td", {}, o.replayed_at ? new Date(o.replayed_at).toLocaleString() : el("span", { class: "muted", text: "not yet" })),
    el("td", { class: "actions" }, inspect, " ", replay));
}

function render() {
  const list = $("#q-list");
  $("#q-replay-all").disabled = objects.length === 0;
  if (!objects.length) {
    list.replaceChildren(el("p", { class: "muted", text: "No quarantined objects." }));
    return;
  }
  list.replaceChildren(el("table", { class: "data-table" },
    el("caption", { class: "visually-hidden", text: `Quarantine objects of ${connectorId}` }),
    el("thead", {}, el("tr", {}, ...["Received", "Reasons", "Events", "Replayed", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, objects.map(row))));
}

/** Loads the list for `id` (and the reason filter); updates the reason choices from what is there. */
export async function loadQuarantine(id) {
  connectorId = id;
  const reason = $("#q-reason").value;
  const res = await api.quarantine(id, reason || undefined);
  objects = [...(res.objects ?? [])].sort((a, b) => String(b.received_at).localeCompare(String(a.received_at)));
  if (!reason) {
    const reasons = [...new Set(objects.flatMap((o) => Object.keys(o.reasons ?? {})))].sort();
    $("#q-reason").replaceChildren(new Option("every reason", ""), ...reasons.map((r) => new Option(r, r)));
  }
  render();
  $("#q-count").textContent = `${plural(objects.length, "object")}, ${plural(objects.reduce((a, o) => a + (o.events ?? 0), 0), "event")}`;
  return objects;
}

async function inspect(key) {
  const { text, collapsed } = indentJson(await api.quarantineObjectText(key));
  $("#q-inspect-key").textContent = key;
  $("#q-inspect-json").textContent = text;
  const note = $("#q-inspect-note");
  note.hidden = collapsed === 0;
  note.textContent = collapsed
    ? `Nested deeper than ${MAX_INDENT_DEPTH} levels: ${plural(collapsed, "value")} shown as raw text, on one line.`
    : "";
  $("#q-inspect").hidden = false;
  $("#q-inspect-title").focus();
}

function showTotals(t, done, total) {
  $("#q-progress").max = Math.max(total, 1);
  $("#q-progress").value = done;
  $("#q-progress-text").textContent = `${done} of ${total} objects replayed`;
  $("#q-totals").replaceChildren(
    el("span", {}, "Requeued ", el("strong", { "data-total": "requeued", text: String(t.requeued) })),
    el("span", {}, "Still quarantined ", el("strong", { "data-total": "still_quarantined", text: String(t.still_quarantined) })),
    el("span", {}, "Filtered ", el("strong", { "data-total": "filtered", text: String(t.filtered) })));
}

/** Replays `keys` one by one, updating the progress bar and totals; returns the totals. */
async function replay(keys) {
  const totals = { objects: 0, requeued: 0, still_quarantined: 0, filtered: 0 };
  const box = $("#q-replay");
  box.hidden = false;
  box.dataset.state = "running";
  $("#q-replay-error").hidden = true;
  for (const b of document.querySelectorAll("#quarantine-panel button")) b.disabled = true;
  showTotals(totals, 0, keys.length);
  try {
    for (const [i, key] of keys.entries()) {
      const r = await api.replayKey(key);
      for (const k of Object.keys(totals)) totals[k] += Number(r?.[k] ?? 0);
      showTotals(totals, i + 1, keys.length);
    }
    box.dataset.state = "done";
    announce(`Replay finished: ${plural(totals.requeued, "event")} requeued, ${totals.still_quarantined} still quarantined.`);
  } catch (e) {
    box.dataset.state = "failed";
    $("#q-replay-error").hidden = false;
    $("#q-replay-error").textContent = `Replay stopped: ${e.code}: ${e.message}`;
    if (e.status !== 401) announce(`Replay stopped: ${e.message}`, true);
    else throw e;
  } finally {
    for (const b of document.querySelectorAll("#quarantine-panel button")) b.disabled = false;
  }
  await loadQuarantine(connectorId);
  return totals;
}

/** Wires the quarantine panel once; `say(message, isError)` announces results. */
export function initQuarantine(say, onError) {
  announce = say;
  const guard = (fn) => (...args) => fn(...args).catch(onError);
  $("#q-reason").addEventListener("change", guard(() => loadQuarantine(connectorId)));
  $("#q-refresh").addEventListener("click", guard(() => loadQuarantine(connectorId)));
  $("#q-list").addEventListener("click", guard(async (ev) => {
    const i = ev.target.closest("[data-inspect]");
    if (i) return inspect(i.dataset.inspect);
    const r = ev.target.closest("[data-replay]");
    if (r) return replay([r.dataset.replay]);
  }));
  $("#q-replay-all").addEventListener("click", guard(async () => {
    const pending = objects.filter((o) => !o.replayed_at);
    const keys = (pending.length ? pending : objects).map((o) => o.key);
    if (!keys.length) return;
    const what = pending.length ? "not yet replayed" : "already replayed once";
    if (!window.confirm(`Replay ${plural(keys.length, "object")} (${what}) of ${connectorId}, one by one?`)) return;
    await replay(keys);
  }));
  $("#q-inspect-close").addEventListener("click", () => {
    $("#q-inspect").hidden = true;
    $("#q-list button")?.focus();
  });
}

export function resetQuarantine() {
  objects = [];
  $("#q-reason").replaceChildren(new Option("every reason", ""));
  $("#q-list").replaceChildren();
  $("#q-inspect").hidden = true;
  $("#q-replay").hidden = true;
  $("#q-count").textContent = "";
}
