#!/usr/bin/env node
// `npm start`: the whole relay on this machine, offline.
//
//   1. installs the npm packages if node_modules is missing or stale (scripts/setup-node.sh);
//   2. builds the browser translator and the page the Worker serves as static assets
//      (`bash scripts/build-pkg.sh && bash scripts/build-www.sh`); the Worker itself is built by
//      `wrangler dev`, which runs wrangler.toml's [build] command (`bash scripts/build.sh`) before
//      it starts (a failed build stops it, and `npm start` with it) and again when src/ changes;
//   3. starts the Segment sink on 127.0.0.1:8788 (scripts/segment-sink.mjs);
//   4. seeds a demo connector `demo` into local KV with a fresh random bearer token and write key,
//      saved to .wrangler/demo-connector.json (gitignored, 0600) for `npm run send-samples`; the
//      connector document goes to `wrangler kv key put --path` from a 0600 file removed right
//      after, so the write key is never on a command line (`ps`) nor echoed by wrangler to the
//      console or to its log files (~/.config/.wrangler/logs, or WRANGLER_LOG_PATH);
//   4b. writes a fresh admin token to .dev.vars (ADMIN_TOKEN) on every start;
//   5. runs `wrangler dev --local` on 127.0.0.1:8787 with the Segment URLs pointed at the sink,
//      and prints the demo credentials and the Playground/Console URLs once it answers. It runs
//      the Worker through scripts/local-queue-journal.mjs, with a config generated from
//      wrangler.toml into .wrangler/local/ (one more KV namespace, LOCAL_QUEUE_JOURNAL): wrangler's
//      local queues live in memory only, and the journal keeps accepted messages across a stop,
//      a crash or a restart (they are sent again when the Worker starts).
// Ctrl-C stops everything. If workerd dies, `npm start` says so and exits with status 1.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const WORKER_PORT = Number(process.env.RELAY_PORT ?? 8787);
const SINK_PORT = Number(process.env.SINK_PORT ?? 8788);
const PERSIST = ".wrangler/state";
const DEMO_CONNECTOR = "demo";
const DEMO_FILE = path.join(ROOT, ".wrangler/demo-connector.json");
/** The config `wrangler dev` runs with: wrangler.toml plus the local queue journal. */
const LOCAL_CONFIG = path.join(ROOT, ".wrangler/local/wrangler.json");
/** Local secrets for `wrangler dev` (gitignored): the admin API token lives here. */
const DEV_VARS = path.join(ROOT, ".dev.vars");
/** wrangler must never try the network or ask questions (offline switches: no metrics, no banner, no cf fetch). */
const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  TMPDIR: path.join(ROOT, ".tmp"),
};
const env = { ...process.env, ...OFFLINE_ENV };
const children = new Set();
let sink;

const say = (line) => console.log(`[dev] ${line}`);

function run(cmd, args, what) {
  say(`${what}: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, env, stdio: "inherit" });
  if (r.status !== 0) {
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}

/** Runs a command whose arguments hold a secret: nothing of it is echoed. */
function runQuiet(cmd, args, what) {
  say(what);
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8" });
  if (r.status !== 0) {
    // Secrets go to wrangler in files, never as arguments; still, print only the output's tail.
    throw new Error(`${what} failed: ${(r.stderr || r.stdout || "").trim().split("\n").slice(-5).join("\n")}`);
  }
}

const wranglerBin = () => path.join(ROOT, "node_modules/.bin/wrangler");

async function waitForWorker(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${HOST}:${WORKER_PORT}/health`);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

function banner(demo) {
  const line = "=".repeat(72);
  console.log(
    [
      "",
      line,
      "  LOCAL DEMO ONLY: throwaway credentials, regenerated on every `npm start`",
      line,
      `  Currents endpoint : ${demo.endpoint}`,
      `  Bearer token      : ${demo.token}`,
      `  Segment sink      : ${demo.sink}  (GET /stats, /batches, /events)`,
      `  Admin token       : ${demo.admin_token}  (new on every start, in .dev.vars; Authorization: Bearer ...)`,
      `  Playground        : ${demo.playground}`,
      `  Console           : ${demo.console}  (sign in with the admin token)`,
      `  Saved to          : ${path.relative(ROOT, DEMO_FILE)}`,
      "",
      "  Try:  npm run send-samples",
      `        curl -s ${demo.sink}/stats`,
      line,
      "",
    ].join("\n"),
  );
}

let stopping = false;

function shutdown(code) {
  // The first reason to stop decides the exit status (wrangler exiting because we stopped it
  // must not turn a failure into 0).
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGINT");
  const done = () => {
    if (sink) sink.close().finally(() => process.exit(code));
    else process.exit(code);
  };
  if (children.size === 0) return done();
  const force = setTimeout(() => {
    for (const child of children) child.kill("SIGKILL");
    done();
  }, 5_000);
  force.unref();
  const wait = () => (children.size === 0 ? (clearTimeout(force), done()) : setTimeout(wait, 100));
  wait();
}

/** How often the running Worker is checked, and how long it may fail to answer before we stop. */
const WATCH_EVERY_MS = 1_000;
const WATCH_DEAD_AFTER_MS = 15_000;

/**
 * Watches the Worker once it has answered: if workerd (the runtime wrangler dev runs it in) dies,
 * wrangler keeps running and serves nothing; `npm start` then says so and exits with status 1
 * instead of pretending to run. A reload (wrangler rebuilding after a change) answers again well
 * within the window.
 */
function watchWorker() {
  let failingSince = null;
  const tick = async () => {
    if (stopping) return;
    let ok = false;
    try {
      const res = await fetch(`http://${HOST}:${WORKER_PORT}/health`, { signal: AbortSignal.timeout(5_000) });
      ok = res.ok;
      await res.body?.cancel();
    } catch {
      // no answer
    }
    if (ok) failingSince = null;
    else failingSince ??= Date.now();
    if (failingSince !== null && Date.now() - failingSince >= WATCH_DEAD_AFTER_MS) {
      console.error(
        `[dev] the Worker has not answered on http://${HOST}:${WORKER_PORT}/health for ` +
          `${WATCH_DEAD_AFTER_MS / 1000} s: workerd (the runtime under wrangler dev) has died or hangs. ` +
          "Stopping npm start; run it again.",
      );
      shutdown(1);
      return;
    }
    setTimeout(tick, WATCH_EVERY_MS);
  };
  setTimeout(tick, WATCH_EVERY_MS);
}

/**
 * A fresh local admin token for this start, written to .dev.vars as ADMIN_TOKEN (wrangler dev reads
 * .dev.vars as secrets; the file is gitignored): the previous start's token stops working. Other
 * lines of .dev.vars are kept.
 */
function freshAdminToken() {
  const token = `adm_${randomBytes(24).toString("base64url")}`;
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const kept = text.split("\n").filter((line) => line !== "" && !/^ADMIN_TOKEN\s*=/.test(line));
  writeFileSync(DEV_VARS, `${[...kept, `ADMIN_TOKEN="${token}"`].join("\n")}\n`, { mode: 0o600 });
  return token;
}

/**
 * Writes `value` to local KV under `key` through a 0600 file (`wrangler kv key put --path`): a
 * value given as an argument would be visible in `ps` and echoed by wrangler to the console and
 * to its log file ("Writing the value ..."); with --path it logs only the file name.
 */
function putLocalKv(key, value, what) {
  const dir = mkdtempSync(path.join(OFFLINE_ENV.TMPDIR, "kv-"));
  const file = path.join(dir, "value.json");
  try {
    writeFileSync(file, value, { mode: 0o600 });
    runQuiet(
      wranglerBin(),
      ["kv", "key", "put", "--local", "--binding", "CONFIG", "--persist-to", PERSIST, key, "--path", file],
      what,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * wrangler.toml for this local run: the entry module is scripts/local-queue-journal.mjs (which
 * runs the built Worker with a journaled DELIVERY queue) and the journal's KV namespace is added.
 * Paths are relative to the config file's folder, as wrangler resolves them.
 */
function writeLocalConfig() {
  const config = parseToml(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  const fromConfig = (p) => path.relative(path.dirname(LOCAL_CONFIG), path.resolve(ROOT, p));
  config.main = fromConfig("scripts/local-queue-journal.mjs");
  // build.cwd is taken from the working directory, the rest from the config file's folder.
  config.build = { ...config.build, cwd: ROOT, watch_dir: fromConfig("src") };
  config.assets = { ...config.assets, directory: fromConfig(config.assets.directory) };
  config.kv_namespaces = [
    ...(config.kv_namespaces ?? []),
    { binding: "LOCAL_QUEUE_JOURNAL", id: "local-queue-journal" },
  ];
  mkdirSync(path.dirname(LOCAL_CONFIG), { recursive: true });
  writeFileSync(LOCAL_CONFIG, `${JSON.stringify(config, null, 2)}\n`);
}

async function main() {
  process.chdir(ROOT);
  mkdirSync(OFFLINE_ENV.TMPDIR, { recursive: true });
  // scripts/setup-node.sh runs `npm ci` only when node_modules does not match the lockfile.
  if (existsSync(path.join(ROOT, "scripts/setup-node.sh"))) {
    run("bash", ["scripts/setup-node.sh"], "checking npm packages");
  } else if (!existsSync(wranglerBin())) {
    run("npm", ["install", "--no-audit", "--no-fund"], "installing npm packages");
  }
  // wrangler.toml [assets] serves build/www (the Playground and the Console) from the Worker.
  run("bash", ["scripts/build-pkg.sh"], "building the browser translator (pkg/)");
  run("bash", ["scripts/build-www.sh"], "assembling the page (build/www)");

  const { startSink } = await import("./segment-sink.mjs");
  const token = randomBytes(24).toString("base64url");
  const writeKey = `demo${randomBytes(14).toString("hex")}`;
  sink = await startSink({ host: HOST, port: SINK_PORT, writeKeys: { demo: writeKey } });
  say(`Segment sink on ${sink.url}`);

  const config = {
    description: "LOCAL DEMO ONLY: created by npm start",
    token_sha256: createHash("sha256").update(token).digest("hex"),
    destinations: { demo: { write_key: writeKey, region: "us" } },
  };
  mkdirSync(path.dirname(DEMO_FILE), { recursive: true });
  putLocalKv(
    `connector:${DEMO_CONNECTOR}`,
    JSON.stringify(config),
    `seeding connector "${DEMO_CONNECTOR}" into local KV (${PERSIST})`,
  );
  const demo = {
    note: "LOCAL DEMO ONLY",
    connector: DEMO_CONNECTOR,
    endpoint: `http://${HOST}:${WORKER_PORT}/v1/currents/${DEMO_CONNECTOR}`,
    token,
    write_key: writeKey,
    sink: sink.url,
    // Needed by POST/DELETE /faults and DELETE /batches of the sink (scripts/segment-sink.mjs).
    sink_control_token: sink.controlToken,
    admin_token: freshAdminToken(),
    playground: `http://${HOST}:${WORKER_PORT}/`,
    console: `http://${HOST}:${WORKER_PORT}/console.html`,
  };
  writeFileSync(DEMO_FILE, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });

  writeLocalConfig();
  const args = [
    "dev", "--config", path.relative(ROOT, LOCAL_CONFIG), "--env-file", DEV_VARS,
    "--local", "--ip", HOST, "--port", String(WORKER_PORT), "--persist-to", path.join(ROOT, PERSIST),
    "--show-interactive-dev-session=false",
    // The Cron Trigger does not fire under `wrangler dev`: GET /__scheduled runs the scheduled
    // handler (the alert rules, docs/ADMIN_API.md) on demand.
    "--test-scheduled",
    "--var", `SEGMENT_US_URL:${sink.usUrl}`,
    "--var", `SEGMENT_EU_URL:${sink.euUrl}`,
  ];
  say(`starting: wrangler ${args.join(" ")}`);
  const wrangler = spawn(wranglerBin(), args, { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] });
  children.add(wrangler);
  wrangler.on("exit", (code, signal) => {
    children.delete(wrangler);
    if (!stopping) say(`wrangler exited (${signal ?? code})`);
    // wrangler ending on its own (not stopped by us) is a failure unless it said otherwise.
    shutdown(code ?? 1);
  });

  if (await waitForWorker(120_000)) {
    banner(demo);
    watchWorker();
  } else {
    console.error(`[dev] the Worker did not answer on http://${HOST}:${WORKER_PORT}/health within 120 s`);
    shutdown(1);
  }
}

process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
main().catch((e) => {
  console.error(`[dev] ${e.message}`);
  shutdown(1);
});
