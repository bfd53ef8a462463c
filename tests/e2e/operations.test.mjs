// Operations through the built Worker under workerd: alert rules evaluated by the scheduled
// handler (the Cron Trigger, fired here through Miniflare) post to a local webhook receiver once
// when a rule starts firing and once when it clears, retry a message the webhook refused at the
// next run and never repeat one it took; GET /admin/metrics, scraped with the read-only metrics
// token and read by a Prometheus text-format parser (npm `parse-prometheus-text-format`), shows
// exactly the counters of a known load. The webhook URL and the tokens never reach a log line.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import parsePrometheus from "parse-prometheus-text-format";
import { newWriteKey, startHarness, waitFor } from "./harness.mjs";

const WK = newWriteKey("ops");
const METRICS_TOKEN = `mtr_${Math.random().toString(36).slice(2)}${Date.now()}`;
const HOOK_SECRET = `hooksecret${Date.now()}`;
const C = "ops-e2e";
const MIN = 60_000;

/** A webhook receiver: keeps every JSON body; answers `failNext` requests with 500 first. */
async function startReceiver() {
  const r = { bodies: [], failNext: 0, refused: 0 };
  r.server = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => { text += c; });
    req.on("end", () => {
      if (r.failNext > 0) {
        r.failNext -= 1;
        r.refused += 1;
        res.writeHead(500).end("busy");
        return;
      }
      r.bodies.push({ path: req.url, type: req.headers["content-type"], json: JSON.parse(text) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => r.server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${r.server.address().port}/hook/${HOOK_SECRET}`;
  return r;
}

let h;
let hook;
before(async () => {
  hook = await startReceiver();
  h = await startHarness({ writeKeys: { main: WK }, bindings: { METRICS_TOKEN } });
});
after(async () => {
  await h?.close();
  hook?.server.close();
});

/** Fires the Worker's scheduled handler once, as the Cron Trigger does, with the test clock at `offsetMs`. */
async function cron(offsetMs = 0) {
  await h.setClockOffset(offsetMs);
  const worker = await h.mf.getWorker("currents-relay");
  await worker.scheduled({ cron: "*/5 * * * *" });
}

/** The webhook messages received since index `from`, as `rule:state`. */
const messages = (from = 0) => hook.bodies.slice(from).map((b) => `${b.json.rule}:${b.json.state}`).sort();

function event(id, type = "users.messages.email.Send") {
  return { id, event_type: type, time: 1_767_225_600, user: { user_id: `b-${id}`, external_user_id: `u-${id}` } };
}

async function stats() {
  const r = await h.admin("GET", `/admin/connectors/${C}/stats`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function scrape(token = METRICS_TOKEN) {
  return h.fetch(`/admin/metrics?connector=${C}`, { headers: { Authorization: `Bearer ${token}` } });
}

/** The parsed scrape: `value(name, labels)` of one sample of this connector. */
async function metrics() {
  const res = await scrape();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text());
  const family = (name) => families.find((f) => f.name === name);
  return {
    families,
    family,
    value(name, labels = {}) {
      const f = family(name);
      assert.ok(f, `no family ${name}`);
      const m = f.metrics.find((s) => s.labels?.connector === C
        && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      assert.ok(m, `no sample ${name} ${JSON.stringify(labels)}`);
      return Number(m.value);
    },
  };
}

test("alerts fire once and clear once; metrics count a known load", async () => {
  const created = await h.admin("POST", "/admin/connectors", {
    id: C,
    config: {
      destinations: { main: { write_key: WK, region: "us" } },
      alerts: { webhook_url: hook.url, held_hours: 1, quarantine_per_hour: 2, new_event_types: true },
    },
  });
  assert.equal(created.status, 201, created.text);
  const token = created.json.token;
  const shown = await h.admin("GET", `/admin/connectors/${C}`);
  assert.equal(shown.json.config.alerts.webhook_url, `****${HOOK_SECRET.slice(-4)}`);
  assert.equal(shown.json.config.alerts.held_hours, 1);

  // The first run sees nothing wrong (and takes the quarantine baseline).
  await cron(0);
  assert.deepEqual(messages(), []);
  let alerts = await h.admin("GET", `/admin/connectors/${C}/alerts`);
  assert.equal(alerts.status, 200, alerts.text);
  assert.deepEqual(alerts.json.rules.map((r) => [r.rule, r.firing]),
    [["events_held", false], ["quarantine_growth", false], ["new_event_types", false]]);

  // A paused connector holds 5 events; 3 events without an id go to quarantine; 1 of a type
  // the mapping table does not know (forwarded, and in the drift report).
  assert.equal((await h.admin("POST", `/admin/connectors/${C}/pause`)).status, 200);
  const events = [...[1, 2, 3, 4].map((i) => event(`ops-${i}`)), event("ops-5", "users.messages.hologram.Send")];
  const bad = [1, 2, 3].map((i) => ({ ...event(`x${i}`), id: undefined }));
  const sent = await h.post(C, { events: [...events, ...bad] }, { token });
  assert.equal(sent.status, 200, sent.text);
  await waitFor(async () => (await stats()).held?.paused >= 5, { message: "the paused connector holds its events" });

  // Quarantine grew by 3 (> 2) and a new type came: both fire, in one run. The webhook refuses
  // the first message: it is sent again at the next run, and nothing else is repeated.
  hook.failNext = 1;
  await cron(5 * MIN);
  assert.equal(hook.refused, 1);
  assert.equal(messages().length, 1, "one of the two went through");
  await cron(10 * MIN);
  assert.deepEqual(messages(), ["new_event_types:firing", "quarantine_growth:firing"]);
  const newTypes = hook.bodies.find((b) => b.json.rule === "new_event_types").json;
  assert.equal(newTypes.connector, C);
  assert.match(newTypes.text, /users\.messages\.hologram\.Send/);
  assert.equal(hook.bodies[0].type, "application/json");
  await cron(15 * MIN);
  assert.equal(hook.bodies.length, 2, "no repeat while the rules keep firing");

  // An hour and a bit later the held events are too old: held fires, naming the pause.
  const beforeHeld = hook.bodies.length;
  await cron(66 * MIN);
  assert.deepEqual(messages(beforeHeld), ["events_held:firing", "quarantine_growth:resolved"]);
  const held = hook.bodies.slice(beforeHeld).find((b) => b.json.rule === "events_held").json;
  assert.match(held.text, /5 events pending, the oldest for 1 h \d+ min; the connector is paused/);
  alerts = await h.admin("GET", `/admin/connectors/${C}/alerts`);
  assert.equal(alerts.json.rules.find((r) => r.rule === "events_held").firing, true);

  // Metrics while held: pending events and their age; the scraper's own token works.
  let m = await metrics();
  assert.equal(m.value("currents_relay_connector_paused"), 1);
  assert.equal(m.value("currents_relay_events_pending"), 5);
  assert.ok(m.value("currents_relay_oldest_pending_event_age_seconds") >= 66 * 60);
  assert.equal(m.value("currents_relay_alert_firing", { rule: "events_held" }), 1);
  assert.equal(m.value("currents_relay_drift_new_event_types"), 1);

  // Resume: everything is delivered; held clears; emptying the drift report clears new types.
  assert.equal((await h.admin("POST", `/admin/connectors/${C}/resume`)).status, 200);
  await waitFor(async () => (await stats()).delivered === 5, { timeoutMs: 60_000, message: "the resumed connector delivers" });
  assert.equal((await h.admin("DELETE", `/admin/connectors/${C}/drift`)).status, 204);
  const beforeClear = hook.bodies.length;
  await cron(70 * MIN);
  assert.deepEqual(messages(beforeClear), ["events_held:resolved", "new_event_types:resolved"]);
  await cron(75 * MIN);
  assert.equal(hook.bodies.length, beforeClear + 2, "cleared once");
  assert.deepEqual(messages().filter((x) => x.endsWith("firing")).length, 3);
  assert.deepEqual(messages().filter((x) => x.endsWith("resolved")).length, 3);

  // The scrape against the known load.
  m = await metrics();
  assert.equal(m.value("currents_relay_events_received_total"), 8);
  assert.equal(m.value("currents_relay_events_accepted_total"), 5);
  assert.equal(m.value("currents_relay_events_delivered_total"), 5);
  assert.equal(m.value("currents_relay_events_quarantined_total", { reason: "missing_id" }), 3);
  assert.ok(m.value("currents_relay_events_held_total", { reason: "paused" }) >= 5);
  assert.equal(m.value("currents_relay_events_pending"), 0);
  assert.equal(m.value("currents_relay_oldest_pending_event_age_seconds"), 0);
  assert.equal(m.value("currents_relay_connector_paused"), 0);
  assert.equal(m.value("currents_relay_connector_up"), 1);
  assert.equal(m.value("currents_relay_segment_requests_total", { class: "2xx" }), (await stats()).segment_requests["2xx"]);
  assert.ok(m.value("currents_relay_last_delivery_timestamp_seconds") > Date.now() / 1000);
  const lag = m.family("currents_relay_delivery_lag_seconds");
  assert.equal(lag.type, "HISTOGRAM");
  // This parser keeps a labelled histogram's cumulative buckets (its _sum and _count are checked
  // by the renderer's unit tests): every delivered event waited over an hour of the test clock.
  const buckets = lag.metrics[0].buckets;
  assert.equal(Number(buckets["+Inf"]), 5, "one lag per delivered event");
  assert.equal(Number(buckets["3600"]), 0, "none within the hour");
  assert.equal(Number(buckets["10800"]), 5);
  for (const f of m.families) {
    assert.match(f.name, /^currents_relay_[a-z_]+$/);
    assert.equal(f.type === "COUNTER", f.name.endsWith("_total"), f.name);
  }

  // The metrics token opens the metrics and nothing else; no token, no metrics.
  assert.equal((await scrape("wrong")).status, 401);
  const other = await h.fetch(`/admin/connectors/${C}`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(other.status, 401);
  const all = await h.fetch("/admin/metrics", { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.match(await all.text(), /currents_relay_events_received_total\{connector="ops-e2e"\} 8/);

  // No secret in any log line.
  await h.logBarrier();
  const logs = h.logText();
  for (const secret of [HOOK_SECRET, METRICS_TOKEN, WK, token]) {
    assert.ok(!logs.includes(secret), "a secret reached the logs");
  }
  assert.match(logs, /"event":"alert_not_sent"/);
  assert.match(logs, /"event":"alerts_checked"/);
});

test("alert rules are validated like the rest of the config", async () => {
  const bad = await h.admin("POST", "/admin/connectors", {
    id: "ops-bad",
    config: {
      destinations: { main: { write_key: WK, region: "us" } },
      alerts: { webhook_url: "http://hooks.example.com/x", held_hours: 0 },
    },
  });
  assert.equal(bad.status, 422, bad.text);
  const fields = bad.json.errors.map((e) => e.field).sort();
  assert.deepEqual(fields, ["alerts.held_hours", "alerts.webhook_url"]);
  assert.ok(!bad.text.includes("hooks.example.com/x"), "the URL is not echoed");
});
