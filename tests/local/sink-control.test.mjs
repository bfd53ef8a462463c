// The local Segment sink's control routes (scripts/segment-sink.mjs): a web page the developer
// opens must not be able to rewrite the sink's faults or wipe what it recorded. Changing routes
// (POST/DELETE /faults, DELETE /batches) need the sink's control token and refuse any request a
// browser marks as cross-site; the module API (`setFaults`) used by the tests stays as it was.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSink } from "../../scripts/segment-sink.mjs";

let sink;
before(async () => {
  sink = await startSink({ quiet: true, writeKeys: { demo: "wk_sink_control_test" } });
});
after(() => sink?.close());

const plan = JSON.stringify({ next: [500] });
const post = (headers) =>
  fetch(`${sink.url}/faults`, { method: "POST", headers: { "content-type": "text/plain", ...headers }, body: plan });
const faultsActive = async () => (await (await fetch(`${sink.url}/stats`)).json()).faults_active !== null;

test("sink: a simple cross-origin POST /faults (what any web page can send) is refused and changes nothing", async () => {
  const r = await post({ origin: "https://evil.example", "sec-fetch-site": "cross-site" });
  assert.equal(r.status, 403);
  assert.equal(await faultsActive(), false, "the faults were changed by a cross-origin request");
  const del = await fetch(`${sink.url}/batches`, { method: "DELETE", headers: { origin: "https://evil.example" } });
  assert.equal(del.status, 403);
});

test("sink: POST /faults without the control token is refused; with it, it works; setFaults still works", async () => {
  const none = await post({});
  assert.equal(none.status, 401);
  const wrong = await post({ authorization: "Bearer not-the-token" });
  assert.equal(wrong.status, 401);
  assert.equal(await faultsActive(), false);
  assert.equal(typeof sink.controlToken, "string");
  const ok = await post({ authorization: `Bearer ${sink.controlToken}` });
  assert.equal(ok.status, 200);
  assert.equal(await faultsActive(), true);
  const cleared = await fetch(`${sink.url}/faults`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${sink.controlToken}` },
  });
  assert.equal(cleared.status, 200);
  assert.equal(await faultsActive(), false);
  sink.setFaults({ next: [503] });
  assert.equal(await faultsActive(), true, "the module API sets faults without a token");
  sink.setFaults(null);
  // Reading stays open to same-machine clients (the tests, `curl`, send-samples).
  assert.equal((await fetch(`${sink.url}/stats`)).status, 200);
});
