#!/usr/bin/env node
// `npm start`: the whole relay on this machine, offline.
//
//   1. installs the npm packages if node_modules is missing or stale (scripts/setup-node.sh);
//   2. builds the Worker (`bash scripts/build.sh`), the browser translator and the page the Worker
//      serves as static assets (`bash scripts/build-pkg.sh && bash scripts/build-www.sh`);
//   3. starts the Segment sink on 127.0.0.1:8788 (scripts/segment-sink.mjs);
//   4. seeds a demo connector `demo` into local KV with a fresh random bearer token and write key,
//      saved to .wrangler/demo-connector.json (gitignored) for `npm run send-samples`;
//   5. runs `wrangler dev --local` on 127.0.0.1:8787 with the Segment URLs pointed at the sink,
//      and prints the demo credentials and the Playground/Console URLs once it answers.
// Ctrl-C stops everything.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const WORKER_PORT = Number(process.env.RELAY_PORT ?? 8787);
const SINK_PORT = Number(process.env.SINK_PORT ?? 8788);
const PERSIST = ".wrangler/state";
const DEMO_CONNECTOR = "demo";
const DEMO_FILE = path.join(ROOT, ".wrangler/demo-connector.json");
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
    // wrangler's own output does not echo the value; still, print only its stderr tail.
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
      `  Demo write key    : ${demo.write_key}  (source "demo" at the sink)`,
      `  Admin token       : ${demo.admin_token}  (from .dev.vars; Authorization: Bearer ...)`,
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

function shutdown(code) {
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

/**
 * The local admin token: the ADMIN_TOKEN of .dev.vars, or a fresh random one appended to it
 * (wrangler dev reads .dev.vars as secrets; the file is gitignored).
 */
function localAdminToken() {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const found = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (found) return found[1];
  const token = `adm_${randomBytes(24).toString("base64url")}`;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  appendFileSync(DEV_VARS, `${sep}ADMIN_TOKEN="${token}"\n`, { mode: 0o600 });
  return token;
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
  run("bash", ["scripts/build.sh"], "building the Worker");
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
  runQuiet(
    wranglerBin(),
    ["kv", "key", "put", "--local", "--binding", "CONFIG", "--persist-to", PERSIST,
      `connector:${DEMO_CONNECTOR}`, JSON.stringify(config)],
    `seeding connector "${DEMO_CONNECTOR}" into local KV (${PERSIST})`,
  );
  const demo = {
    note: "LOCAL DEMO ONLY",
    connector: DEMO_CONNECTOR,
    endpoint: `http://${HOST}:${WORKER_PORT}/v1/currents/${DEMO_CONNECTOR}`,
    token,
    write_key: writeKey,
    sink: sink.url,
    admin_token: localAdminToken(),
    playground: `http://${HOST}:${WORKER_PORT}/`,
    console: `http://${HOST}:${WORKER_PORT}/console.html`,
  };
  writeFileSync(DEMO_FILE, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });

  const args = [
    "dev", "--local", "--ip", HOST, "--port", String(WORKER_PORT), "--persist-to", PERSIST,
    "--show-interactive-dev-session=false",
    "--var", `SEGMENT_US_URL:${sink.usUrl}`,
    "--var", `SEGMENT_EU_URL:${sink.euUrl}`,
  ];
  say(`starting: wrangler ${args.join(" ")}`);
  const wrangler = spawn(wranglerBin(), args, { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] });
  children.add(wrangler);
  wrangler.on("exit", (code, signal) => {
    children.delete(wrangler);
    say(`wrangler exited (${signal ?? code})`);
    shutdown(code ?? 0);
  });

  if (await waitForWorker(120_000)) banner(demo);
  else say(`the Worker did not answer on http://${HOST}:${WORKER_PORT}/health within 120 s`);
}

process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
main().catch((e) => {
  console.error(`[dev] ${e.message}`);
  shutdown(1);
});
