// `npm start`'s credentials: the demo write key never reaches wrangler's log files, the console or
// a command line; the bearer token and the admin token are printed once, in the banner; the admin
// token is a fresh one on every start (the previous one is refused); the metrics and the scheduled
// handler work under it. And what the README promises of the run: the Playground and the Console
// are served, and `npm run send-samples` delivers Braze's samples to the local Segment sink.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { DEV_VARS, ROOT, readTree, request, safeLines, startNpmStart, waitFor } from "./npm-start.mjs";

const count = (text, needle) => text.split(needle).length - 1;
let running;
after(async () => running?.stop());

/** The admin token of .dev.vars as `npm start` left it. */
const devVarsHas = (token) => readFileSync(DEV_VARS, "utf8").includes(token);

test("npm start: no write key in wrangler's log files or the console; bearer and admin token once, in the banner", async () => {
  running = await startNpmStart();
  const demo = running.demo();
  assert.ok(demo.write_key.length > 8 && demo.token.length > 8 && demo.admin_token.length > 8);
  // The Worker answered: wrangler has written its log for the run (the seeding and `wrangler dev`).
  const logs = readTree(running.logDir);
  assert.ok(logs.length > 0, "wrangler wrote log files to WRANGLER_LOG_PATH");
  assert.equal(logs.includes(demo.write_key), false, "the write key is in wrangler's log files");
  assert.equal(logs.includes(demo.token), false, "the bearer token is in wrangler's log files");
  assert.equal(logs.includes(demo.admin_token), false, "the admin token is in wrangler's log files");
  const out = running.output();
  assert.equal(out.includes(demo.write_key), false, "the write key is printed on the console");
  assert.equal(count(out, demo.token), 1, "the bearer token is printed exactly once");
  assert.equal(count(out, demo.admin_token), 1, "the admin token is printed exactly once");
  const banner = out.slice(out.indexOf("LOCAL DEMO ONLY"));
  assert.equal(banner.includes(demo.token) && banner.includes(demo.admin_token), true, "both tokens are in the banner");
  // The running processes' command lines hold no secret either (`ps` shows them).
  const { execFileSync } = await import("node:child_process");
  const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  assert.equal(ps.includes(demo.write_key) || ps.includes(demo.token) || ps.includes(demo.admin_token), false,
    "a secret is on a command line");
});

test("npm start serves the Playground and the Console; `npm run send-samples` delivers Braze's samples to the sink", async () => {
  if (!running || running.exit) running = await startNpmStart();
  for (const [pathname, title] of [["/", "Playground"], ["/console.html", "Console"]]) {
    const res = await fetch(`${running.relayUrl}${pathname}`);
    assert.equal(res.status, 200, pathname);
    assert.match(await res.text(), new RegExp(`<title>${title}`), `${pathname} is the ${title}`);
  }
  const accepted = async () => (await (await fetch(`${running.sinkUrl}/stats`)).json()).accepted_events;
  const before = await accepted();
  // The README's command (scripts/send-samples.mjs), told this run's ports.
  const env = { ...process.env, RELAY_URL: running.relayUrl, SINK_URL: running.sinkUrl };
  const sent = await promisify(execFile)(process.execPath, ["scripts/send-samples.mjs"], { cwd: ROOT, env })
    .catch((e) => assert.fail(`send-samples failed: ${safeLines(`${e.stdout}${e.stderr}`)}`));
  const totals = JSON.parse(/Worker totals: (\{.*\})/.exec(sent.stdout)[1]);
  // Braze's 93 official samples: the one without any user identity is filtered, the rest arrive.
  assert.deepEqual([totals.received, totals.accepted, totals.filtered, totals.quarantined], [93, 92, 1, 0]);
  // At least those 92 arrive, maybe among others: a start sends again every message of the
  // previous run whose ack the journal had not recorded when it stopped (at least once, under the
  // same messageIds: tests/local/queue-restart.test.mjs stops right after its last delivery).
  // Those re-sent messages can be what reaches the count first: the named events are waited for
  // too, not read once.
  await waitFor(async () => (await accepted()) - before >= 92, { message: "the sink receives the 92 samples" });
  const wanted = ["Email Delivered", "Push Notification Sent", "SMS Delivered", "Canvas Entered"];
  const missing = async () => {
    const names = new Set((await (await fetch(`${running.sinkUrl}/events`)).json()).map((e) => e.event));
    return wanted.filter((name) => !names.has(name));
  };
  await waitFor(async () => (await missing()).length === 0, { message: `the sink has ${wanted.join(", ")} events` });
});

test("npm start: a new admin token on every start, printed once; the previous one is refused", async () => {
  if (!running || running.exit) running = await startNpmStart();
  const first = running.demo().admin_token;
  const ok = await request(`${running.relayUrl}/admin/connectors`, { token: first });
  assert.equal(ok.status, 200, "the first run's admin token works in the first run");
  await running.stop();

  running = await startNpmStart();
  const second = running.demo().admin_token;
  assert.equal(second === first, false, "the admin token was regenerated");
  assert.equal(devVarsHas(second), true, ".dev.vars holds the new admin token");
  assert.equal(devVarsHas(first), false, ".dev.vars no longer holds the previous one");
  assert.equal(count(running.output(), second), 1, "the new admin token is printed once");
  const old = await request(`${running.relayUrl}/admin/connectors`, { token: first });
  assert.equal(old.status, 401, "the previous admin token is refused");
  const now = await request(`${running.relayUrl}/admin/connectors`, { token: second });
  assert.equal(now.status, 200, "the new admin token works");

  // Operations under `npm start`: the metrics answer with the admin token, and the scheduled
  // handler (alert rules) runs on demand (`wrangler dev --test-scheduled`).
  const metrics = await fetch(`${running.relayUrl}/admin/metrics`, { headers: { authorization: `Bearer ${second}` } });
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), new RegExp(`currents_relay_connector_up\\{connector="${running.demo().connector}"\\} 1`));
  const scheduled = await fetch(`${running.relayUrl}/__scheduled?cron=*/5+*+*+*+*`);
  assert.equal(scheduled.status, 200, "the scheduled handler ran");
});
