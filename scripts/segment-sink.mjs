#!/usr/bin/env node
// A local stand-in for Segment's HTTP Tracking API batch endpoint, for `npm start`, the
// end-to-end tests and the benchmark. Plain node:http, no dependencies.
//
// It enforces the limits Segment documents (CONTRACTS §2) so a Worker that passes here does not
// get 400s in production: 500 KB per request, 32 KB per event, 2,500 events per request,
// messageId ≤ 100 chars, Basic auth `base64("<writeKey>:")`. Like Segment it answers 200 for an
// unknown write key (recorded as `auth: "invalid"`). Write keys are recorded by their *name*
// and never printed.
//
//   POST   /us/v1/batch, /eu/v1/batch   the endpoints (region = path prefix)
//   GET    /batches                     accepted batches: region, source, auth, sentAt, count, events
//   GET    /events[?region=&source=]    accepted events, flattened, as received
//   GET    /stats                       counters (requests, events, rejections, faults, per source)
//   DELETE /batches                     forget everything recorded (faults stay)
//   POST   /faults                      {"rate":0.3,"modes":["500","503","429","hang","drop"],
//                                        "retryAfter":1,"hangMs":3000,"seed":7} or {"next":[500,400,"drop"]}
//
// Faults: a status code answers that status (429 and 503 carry `Retry-After: <retryAfter>` seconds);
// "hang" reads the request and never answers until `hangMs` (default 60 s) has passed, then drops
// the connection (the client's timeout must fire first); "drop" destroys the socket right after
// reading the request (a connection reset, no answer). `next` faults are used first, in order, then
// `rate` applies. The request still counts in `stats().requests`; `faults` counts requests per mode
// and `faulted_events` the events they carried (what the client has to send again).
// `{"poison":"<text>"}` makes the sink refuse, with 400 `poisoned_event`, every batch holding an
// event whose JSON contains <text>: how Segment treats a batch with one event it cannot accept
// (the whole request is refused). It combines with the other faults.
//   DELETE /faults                      no more faults
//
// The changing control routes (POST/DELETE /faults, DELETE /batches) need `Authorization: Bearer
// <control token>` (the `controlToken` option, or a random one: `sink.controlToken`; `npm start`
// saves it to .wrangler/demo-connector.json) and refuse with 403 any request a browser marks as
// coming from another site (an `Origin` header, or `Sec-Fetch-Site` other than none/same-origin),
// so a web page open on this machine cannot rewrite the faults or wipe the record. The module
// API (`setFaults`, `reset`) needs no token.
//
// Module: `const sink = await startSink({ port: 0, writeKeys: { main: "wk_..." } })`.
// CLI:    `node scripts/segment-sink.mjs --port 8788 --keys-file keys.json` (keys.json maps
//         source name → write key; `SINK_WRITE_KEYS` may hold the same JSON). Keys are never
//         taken from argv, where `ps` would show them. The control token is `SINK_CONTROL_TOKEN`
//         (unset: a random one nobody knows, so faults cannot be set over HTTP).

import http from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** Segment: "maximum 500KB per batch request". */
export const MAX_REQUEST_BYTES = 500 * 1024;
/** Segment: "32KB per call" (one event, serialized). */
export const MAX_EVENT_BYTES = 32 * 1024;
/** Segment: at most 2,500 events per batch request. */
export const MAX_BATCH_EVENTS = 2500;
/** Segment: messageId up to 100 characters. */
export const MAX_MESSAGE_ID_LEN = 100;
/** Bodies beyond this are not even read: the socket is closed after the 400. */
const HARD_READ_LIMIT = 16 * 1024 * 1024;
/** A "hang" fault holds the request this long at most, then drops the connection. */
const DEFAULT_HANG_MS = 60_000;
const REGIONS = new Set(["us", "eu"]);
const FAULT_MODES = new Set(["500", "502", "503", "504", "429", "408", "400", "404", "413", "hang", "drop"]);

/** mulberry32: a tiny seeded PRNG so fault runs are reproducible. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normalises the `writeKeys` option: `{name: key}` or `[{name, key}]` → Map key → name. */
function keyIndex(writeKeys) {
  const index = new Map();
  const entries = Array.isArray(writeKeys)
    ? writeKeys.map((e) => [e.name, e.key])
    : Object.entries(writeKeys ?? {});
  for (const [name, key] of entries) {
    if (typeof key !== "string" || key === "") throw new Error(`write key for ${name} is empty`);
    index.set(key, String(name));
  }
  return index;
}

/** Validates a fault plan from `POST /faults`; throws with a message on nonsense. */
function parseFaults(plan) {
  if (plan === null || typeof plan !== "object") throw new Error("faults must be an object");
  const next = (plan.next ?? []).map(String);
  for (const m of next) if (!FAULT_MODES.has(m)) throw new Error(`unknown fault ${m}`);
  const rate = plan.rate ?? 0;
  if (typeof rate !== "number" || rate < 0 || rate > 1) throw new Error("rate must be 0..1");
  const modes = (plan.modes ?? ["503"]).map(String);
  for (const m of modes) if (!FAULT_MODES.has(m)) throw new Error(`unknown fault mode ${m}`);
  if (modes.length === 0) throw new Error("modes must not be empty");
  const poison = plan.poison ?? null;
  if (poison !== null && (typeof poison !== "string" || poison === "")) {
    throw new Error("poison must be a non-empty string");
  }
  return {
    poison,
    next,
    rate,
    modes,
    retryAfter: plan.retryAfter ?? 1,
    hangMs: plan.hangMs ?? DEFAULT_HANG_MS,
    seed: plan.seed ?? 1,
    random: prng(plan.seed ?? 1),
  };
}

function emptyStats() {
  return {
    requests: 0,
    accepted_batches: 0,
    accepted_events: 0,
    rejected: {}, // reason → count
    faults: {}, // mode → count
    fault_requests: 0,
    faulted_events: 0, // events in faulted requests
    auth_invalid: 0,
    by_source: {}, // source name → events
    by_region: { us: 0, eu: 0 },
  };
}

/**
 * Starts the sink. Options: `port` (0 = any free port), `host` (default 127.0.0.1),
 * `writeKeys` ({name: key}), `quiet` (no request log lines), `log` (line printer).
 */
export async function startSink(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const keys = keyIndex(options.writeKeys);
  const log = options.quiet ? () => {} : (options.log ?? ((line) => console.log(line)));
  const controlToken = options.controlToken ?? randomBytes(24).toString("base64url");
  const state = {
    batches: [],
    messageIds: new Map(), // messageId → times seen
    firstSeen: new Map(), // messageId → Date.now() of its first accepted arrival
    stats: emptyStats(),
    rejections: [], // last few {status, reason}
    faults: null,
    hanging: new Set(),
  };

  const reject = (res, status, reason) => {
    state.stats.rejected[reason] = (state.stats.rejected[reason] ?? 0) + 1;
    state.rejections.push({ status, reason, at: new Date().toISOString() });
    if (state.rejections.length > 50) state.rejections.shift();
    sendJson(res, status, { success: false, code: reason });
    return reason;
  };

  /** Decides whether this request is faulted; returns the mode or null. */
  const pickFault = () => {
    const f = state.faults;
    if (!f) return null;
    if (f.next.length > 0) return f.next.shift();
    if (f.rate > 0 && f.random() < f.rate) return f.modes[Math.floor(f.random() * f.modes.length)];
    return null;
  };

  const applyFault = (req, res, mode, body) => {
    state.stats.faults[mode] = (state.stats.faults[mode] ?? 0) + 1;
    state.stats.fault_requests += 1;
    state.stats.faulted_events += countEvents(body);
    if (mode === "drop") {
      req.socket.destroy();
      return;
    }
    if (mode === "hang") {
      const timer = setTimeout(() => {
        state.hanging.delete(entry);
        req.socket.destroy();
      }, state.faults?.hangMs ?? DEFAULT_HANG_MS);
      const entry = { timer, socket: req.socket };
      state.hanging.add(entry);
      req.socket.once("close", () => {
        clearTimeout(timer);
        state.hanging.delete(entry);
      });
      return;
    }
    const status = Number(mode);
    const headers = {};
    if (status === 429 || status === 503) headers["retry-after"] = String(state.faults?.retryAfter ?? 1);
    sendJson(res, status, { success: false, code: `fault_${mode}` }, headers);
  };

  const handleBatch = (req, res, region, body) => {
    const fault = pickFault();
    if (fault) {
      applyFault(req, res, fault, body);
      return `fault ${fault}`;
    }
    const auth = checkAuth(req.headers.authorization, keys);
    if (auth.status === "missing") return reject(res, 401, "missing_basic_auth");
    if (body.length > MAX_REQUEST_BYTES) return reject(res, 400, "request_too_large");
    let doc;
    try {
      doc = JSON.parse(body.toString("utf8"));
    } catch {
      return reject(res, 400, "invalid_json");
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
      return reject(res, 400, "not_an_object");
    }
    if (!Array.isArray(doc.batch)) return reject(res, 400, "batch_not_array");
    if (doc.batch.length > MAX_BATCH_EVENTS) return reject(res, 400, "too_many_events");
    for (const event of doc.batch) {
      let problem;
      try {
        problem = checkEvent(event);
      } catch {
        // e.g. nesting too deep to re-serialise: Segment answers such a payload with a 400 too.
        problem = "invalid_json";
      }
      if (problem) return reject(res, 400, problem);
    }
    const poison = state.faults?.poison;
    if (poison && doc.batch.some((event) => JSON.stringify(event).includes(poison))) {
      return reject(res, 400, "poisoned_event");
    }
    if (auth.status === "invalid") state.stats.auth_invalid += 1;
    const source = auth.status === "valid" ? auth.name : null;
    state.batches.push({
      region,
      source,
      auth: auth.status,
      sentAt: doc.sentAt ?? null,
      receivedAt: new Date().toISOString(),
      count: doc.batch.length,
      events: doc.batch,
    });
    const s = state.stats;
    s.accepted_batches += 1;
    s.accepted_events += doc.batch.length;
    s.by_region[region] += doc.batch.length;
    const sourceKey = source ?? "(invalid key)";
    s.by_source[sourceKey] = (s.by_source[sourceKey] ?? 0) + doc.batch.length;
    const now = Date.now();
    for (const event of doc.batch) {
      const seen = state.messageIds.get(event.messageId) ?? 0;
      if (seen === 0) state.firstSeen.set(event.messageId, now);
      state.messageIds.set(event.messageId, seen + 1);
    }
    sendJson(res, 200, { success: true });
    return `${doc.batch.length} events → ${region}/${sourceKey}`;
  };

  const handleControl = (req, res, url, body) => {
    const route = `${req.method} ${url.pathname}`;
    if (CHANGING_ROUTES.has(route)) {
      if (crossSite(req)) return sendJson(res, 403, { code: "cross_site_refused" });
      if (!bearerIs(req.headers.authorization, controlToken)) {
        return sendJson(res, 401, { code: "control_token_required" });
      }
    }
    switch (route) {
      case "GET /batches":
        return sendJson(res, 200, state.batches);
      case "GET /events":
        return sendJson(res, 200, filteredEvents(state.batches, url.searchParams));
      case "GET /stats":
        return sendJson(res, 200, statsOf(state));
      case "DELETE /batches":
        state.batches = [];
        state.messageIds = new Map();
        state.firstSeen = new Map();
        state.stats = emptyStats();
        state.rejections = [];
        return sendJson(res, 200, { reset: true });
      case "POST /faults":
        try {
          state.faults = parseFaults(JSON.parse(body.toString("utf8")));
        } catch (e) {
          return sendJson(res, 400, { code: "invalid_faults", detail: e.message });
        }
        return sendJson(res, 200, { faults: describeFaults(state.faults) });
      case "DELETE /faults":
        state.faults = null;
        return sendJson(res, 200, { faults: null });
      case "GET /health":
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { code: "not_found" });
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://sink");
    const match = /^\/(us|eu)\/v1\/batch$/.exec(url.pathname);
    const isBatch = match && req.method === "POST";
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > HARD_READ_LIMIT) tooBig = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (!isBatch) return handleControl(req, res, url, body);
      state.stats.requests += 1;
      if (tooBig) {
        res.setHeader("connection", "close");
        return reject(res, 400, "request_too_large");
      }
      const outcome = handleBatch(req, res, match[1], body);
      log(`[segment-sink] POST /${match[1]}/v1/batch ${size} B: ${outcome}`);
    });
  });
  // Keep-alive sockets would hold close() open; the Worker reuses connections freely.
  server.keepAliveTimeout = 5_000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const port = server.address().port;
  const base = `http://${host}:${port}`;

  return {
    port,
    url: base,
    usUrl: `${base}/us/v1/batch`,
    euUrl: `${base}/eu/v1/batch`,
    /** The bearer token the changing control routes need (never logged). */
    controlToken,
    /** Accepted batches (live array). */
    get batches() {
      return state.batches;
    },
    /** Accepted events, flattened; `filter` may hold `region` / `source`. */
    events: (filter = {}) => filteredEvents(state.batches, new URLSearchParams(filter)),
    stats: () => statsOf(state),
    /** messageId → times it was accepted (a copy). */
    messageIdCounts: () => new Map(state.messageIds),
    /** messageId → Date.now() when it was first accepted (a copy). */
    firstSeen: () => new Map(state.firstSeen),
    reset: () => {
      state.batches = [];
      state.messageIds = new Map();
      state.firstSeen = new Map();
      state.stats = emptyStats();
      state.rejections = [];
    },
    setFaults: (plan) => {
      state.faults = plan ? parseFaults(plan) : null;
    },
    close: () =>
      new Promise((resolve) => {
        for (const h of state.hanging) {
          clearTimeout(h.timer);
          h.socket.destroy();
        }
        state.hanging.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Control routes that change the sink's behaviour or wipe its record. */
const CHANGING_ROUTES = new Set(["POST /faults", "DELETE /faults", "DELETE /batches"]);

/**
 * A request a browser sent on behalf of another site. Browsers add `Origin` to every
 * cross-origin POST/DELETE (simple ones included) and `Sec-Fetch-Site` to every request; Node
 * clients (the tests, curl) send neither.
 */
function crossSite(req) {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "none" && site !== "same-origin") return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true; // "null" and other opaque origins
  }
}

/** `Authorization: Bearer <expected>`, compared in constant time. */
function bearerIs(header, expected) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Checks the Basic credentials `base64("<writeKey>:")` against the known keys. */
function checkAuth(header, keys) {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m) return { status: "missing" };
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  // Segment's libraries send "<key>:"; a missing colon or a password is not what they send.
  if (colon < 0 || colon !== decoded.length - 1) return { status: "invalid" };
  const name = keys.get(decoded.slice(0, colon));
  return name === undefined ? { status: "invalid" } : { status: "valid", name };
}

/** The first limit an event breaks, as a reason code, or null. */
function checkEvent(event) {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return "event_not_object";
  if (typeof event.type !== "string" || event.type === "") return "event_missing_type";
  if (Buffer.byteLength(JSON.stringify(event), "utf8") > MAX_EVENT_BYTES) return "event_too_large";
  if (event.messageId !== undefined) {
    if (typeof event.messageId !== "string") return "message_id_not_string";
    if (event.messageId.length > MAX_MESSAGE_ID_LEN) return "message_id_too_long";
  }
  return null;
}

/** Events in a request body that may be anything (a faulted request is not validated). */
function countEvents(body) {
  try {
    const doc = JSON.parse(body.toString("utf8"));
    return Array.isArray(doc?.batch) ? doc.batch.length : 0;
  } catch {
    return 0;
  }
}

function filteredEvents(batches, params) {
  const region = params.get("region");
  const source = params.get("source");
  return batches
    .filter((b) => (!region || b.region === region) && (!source || b.source === source))
    .flatMap((b) => b.events);
}

function statsOf(state) {
  let duplicates = 0;
  for (const n of state.messageIds.values()) duplicates += n - 1;
  return {
    ...structuredClone(state.stats), // a snapshot: later requests must not change it
    distinct_message_ids: state.messageIds.size,
    duplicate_message_ids: duplicates,
    recent_rejections: state.rejections.slice(-10),
    faults_active: state.faults ? describeFaults(state.faults) : null,
  };
}

function describeFaults(f) {
  return {
    next: f.next,
    rate: f.rate,
    modes: f.modes,
    retryAfter: f.retryAfter,
    hangMs: f.hangMs,
    seed: f.seed,
    poison: f.poison,
  };
}

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function parseArgs(argv) {
  const args = { port: 8788, host: "127.0.0.1", keysFile: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") args.port = Number(argv[++i]);
    else if (a === "--host") args.host = argv[++i];
    else if (a === "--keys-file") args.keysFile = argv[++i];
    else if (a === "--quiet") args.quiet = true;
    else if (a === "--help" || a === "-h") {
      console.log("usage: node scripts/segment-sink.mjs [--port 8788] [--host 127.0.0.1] [--keys-file keys.json] [--quiet]\n" +
        "keys.json (or env SINK_WRITE_KEYS) maps source name → write key.");
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let writeKeys = {};
  if (args.keysFile) writeKeys = JSON.parse(readFileSync(args.keysFile, "utf8"));
  else if (process.env.SINK_WRITE_KEYS) writeKeys = JSON.parse(process.env.SINK_WRITE_KEYS);
  const controlToken = process.env.SINK_CONTROL_TOKEN || undefined;
  const sink = await startSink({ port: args.port, host: args.host, writeKeys, quiet: args.quiet, controlToken });
  console.log(`[segment-sink] listening on ${sink.url} (US ${sink.usUrl}, EU ${sink.euUrl}); ` +
    `sources: ${Object.keys(writeKeys).join(", ") || "(none: every key is recorded as invalid)"}`);
  if (!controlToken) console.log("[segment-sink] SINK_CONTROL_TOKEN is not set: POST/DELETE /faults and DELETE /batches are refused");
  const stop = () => sink.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    console.error(`[segment-sink] ${e.message}`);
    process.exit(1);
  });
}
