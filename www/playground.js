// The Playground: a Currents batch + a connector config → what the Worker would send to Segment,
// computed in the page by pkg/web (the Worker's own pipeline::process compiled to WebAssembly).
// Re-translates on every change; nothing leaves the browser. Event types and properties the
// mapping table does not describe are marked (results.js, from the outcome's `drift`).
//
// A URL fragment `#batch=<percent-encoded Currents batch JSON>` opens the page with that batch
// (the Console's "New from Braze" links use it); the fragment never reaches a server.

import init, { knownEventTypes, translateBatch, validateConfig, version } from "./pkg/web/currents_relay.js";
import {
  DEFAULT_CONFIG, addOverride, buildTypeControls, formEdit, readConfig, removeOverride, showConfigErrors,
  syncForm, withPlaceholders,
} from "./config-form.js";
import { applyFilter, renderEvents, renderSummary } from "./results.js";

const $ = (sel) => document.querySelector(sel);
const ALL = "*";
/** Typing in a textarea re-translates after this pause (ms); every other control at once. */
const TYPING_PAUSE_MS = 200;

let samples = {};

function showError(message, errors = []) {
  const banner = $("#error");
  banner.hidden = !message;
  banner.replaceChildren();
  if (!message) return;
  const strong = document.createElement("strong");
  strong.textContent = message;
  banner.append(strong);
  if (errors.length) {
    const ul = document.createElement("ul");
    for (const e of errors) {
      const li = document.createElement("li");
      li.textContent = `${e.field}: ${e.message}`;
      ul.append(li);
    }
    banner.append(ul);
  }
}

function showBatchError(message) {
  const slot = $("#batch-error");
  slot.hidden = !message;
  slot.textContent = message ?? "";
  $("#batch").setAttribute("aria-invalid", String(Boolean(message)));
}

function clearResults(summary) {
  $("#summary").textContent = summary;
  $(".result-tools").hidden = true;
  $("#events").replaceChildren();
}

/** Validates the config, translates the batch and renders the outcome (or says why it cannot). */
function refresh() {
  // A counter tests (and curious people) can wait on: one more per finished refresh.
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
  const { doc, syntaxError } = readConfig($("#config").value);
  $("#options").classList.toggle("config-broken", Boolean(syntaxError));
  if (syntaxError) {
    showConfigErrors([{ field: "", message: `not valid JSON: ${syntaxError}` }]);
    showError("The connector JSON is not valid: fix it in “Advanced” to see results.");
    clearResults("No result: the connector JSON is not valid.");
    return;
  }
  syncForm(doc);
  showConfigErrors(validateConfig(withPlaceholders(doc)).errors);
  const body = $("#batch").value;
  if (body.trim() === "") {
    showBatchError(null);
    showError(null);
    clearResults("Pick a sample, upload a file or paste a batch to see what Segment receives.");
    return;
  }
  const started = performance.now();
  let outcome;
  try {
    outcome = translateBatch(body, doc, $("#connector-id").value || undefined);
  } catch (e) {
    // Only what the translator throws is the Worker's answer (a 400, or an invalid config); a
    // failure to show a result is the page's own error, never reported as the Worker's.
    const code = e?.code ?? "error";
    const message = e?.message ?? String(e);
    if (code === "invalid_config") {
      showBatchError(null);
      showError(`The connector config is invalid (${code}): ${message}`, e.errors ?? []);
      if (e.errors) showConfigErrors(e.errors);
      clearResults("No result: the connector config is invalid.");
    } else {
      showBatchError(`${code}: ${message}`);
      showError(`This batch cannot be translated (${code}): ${message}`);
      clearResults("No result: the batch was rejected as a whole, as the Worker would answer 400.");
    }
    return;
  }
  showBatchError(null);
  showError(null);
  renderSummary($("#summary"), outcome);
  $(".result-tools").hidden = false;
  renderEvents($("#events"), outcome, { show: $("#show").value, open: $("#expand").getAttribute("aria-pressed") === "true" });
  $("#engine").textContent = `Translator ${version()} (WebAssembly) · ${(performance.now() - started).toFixed(1)} ms`;
}

function setConfig(doc) {
  $("#config").value = JSON.stringify(doc, null, 2);
  refresh();
}

function editConfig(edit) {
  const { doc } = readConfig($("#config").value);
  if (doc && edit(doc) !== false) setConfig(doc);
}

function debounce(fn) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, TYPING_PAUSE_MS);
  };
}

function fillSampleSelect() {
  const select = $("#sample");
  const types = Object.keys(samples);
  const groups = new Map();
  for (const type of types) {
    const group = type.includes(".") ? type.slice(0, type.lastIndexOf(".")) : type;
    if (!groups.has(group)) groups.set(group, Object.assign(document.createElement("optgroup"), { label: group }));
    groups.get(group).append(new Option(type, type));
  }
  select.replaceChildren(new Option("Your own batch (paste or upload)", ""), new Option(`All samples (${types.length} events)`, ALL),
    ...groups.values());
  select.disabled = false;
}

/** The batch text of the URL fragment (`#batch=...`), if any. */
function batchFromFragment() {
  return new URLSearchParams(location.hash.slice(1)).get("batch");
}

/** Shows the fragment's batch, when there is one; true if it did. */
function loadFragment() {
  const text = batchFromFragment();
  if (text === null) return false;
  $("#batch").value = text;
  $("#sample").value = "";
  refresh();
  return true;
}

function loadSample(value) {
  if (value === "") return;
  const events = value === ALL ? Object.values(samples) : [samples[value]];
  $("#batch").value = JSON.stringify({ events }, null, 2);
  refresh();
}

function wire() {
  $("#sample").addEventListener("change", (e) => loadSample(e.target.value));
  $("#file").addEventListener("change", async (e) => {
    const file = e.target.files?.[0];
    if (!file) return;
    $("#batch").value = await file.text();
    $("#sample").value = "";
    refresh();
  });
  const typedBatch = debounce(refresh);
  $("#batch").addEventListener("input", () => {
    $("#sample").value = "";
    typedBatch();
  });
  $("#config").addEventListener("input", debounce(refresh));
  $("#connector-id").addEventListener("input", debounce(refresh));
  $("#options").addEventListener("submit", (e) => e.preventDefault());
  $("#options").addEventListener("change", (e) => {
    if (e.target.closest("#advanced") || e.target.id === "connector-id" || e.target.closest(".override-add")) return;
    editConfig((doc) => formEdit(doc, e.target));
  });
  $("#options").addEventListener("click", (e) => {
    const type = e.target.dataset?.removeOverride;
    if (type) editConfig((doc) => removeOverride(doc, type));
  });
  $("#override-add").addEventListener("click", () => {
    editConfig((doc) => addOverride(doc, $("#override-type").value, $("#override-name").value));
    $("#override-name").value = "";
  });
  const setAllTypes = (checked) => () => {
    for (const box of document.querySelectorAll("#types input")) box.checked = checked;
    editConfig((doc) => formEdit(doc, $("#types input")));
  };
  $("#types-all").addEventListener("click", setAllTypes(true));
  $("#types-none").addEventListener("click", setAllTypes(false));
  $("#show").addEventListener("change", (e) => applyFilter($("#events"), e.target.value));
  $("#expand").addEventListener("click", (e) => {
    const open = e.target.getAttribute("aria-pressed") !== "true";
    e.target.setAttribute("aria-pressed", String(open));
    e.target.textContent = open ? "Collapse all" : "Expand all";
    for (const d of document.querySelectorAll("#events details")) d.open = open;
  });
}

async function main() {
  try {
    await init();
  } catch (e) {
    $("#engine").textContent = `The translator could not be loaded (pkg/web): ${e.message ?? e}`;
    document.body.dataset.ready = "error";
    return;
  }
  buildTypeControls(knownEventTypes());
  $("#expand").setAttribute("aria-pressed", "false");
  wire();
  $("#config").value = JSON.stringify(DEFAULT_CONFIG, null, 2);
  try {
    const res = await fetch("./samples.json");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    samples = await res.json();
    fillSampleSelect();
    if (!loadFragment()) {
      $("#sample").value = ALL;
      loadSample(ALL);
    }
  } catch (e) {
    $("#sample").replaceChildren(new Option("Samples unavailable", ""));
    showError(`The bundled samples could not be loaded (${e.message}); paste or upload a batch instead.`);
    if (!loadFragment()) refresh();
  }
  window.addEventListener("hashchange", loadFragment);
  $("#engine").textContent = `Translator ${version()} (WebAssembly), running in this page.`;
  document.body.dataset.ready = "true";
}

main();
