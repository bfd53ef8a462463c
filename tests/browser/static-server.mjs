// A tiny static file server for build/www on 127.0.0.1 (a free port), standing in for the Worker's
// static assets: correct MIME types (application/wasm lets the browser stream-compile pkg/web),
// no directory listing, nothing outside the root.
//
// With `proxy`, requests under its `prefixes` (default `/admin/` and `/v1/`) are forwarded to the
// Worker instead, so the page and the API share one origin as in production (the Worker serves
// the page): `upstream` is a base URL ("http://127.0.0.1:8787/") or a fetch-like function
// `(url, init) => Response` such as Miniflare's `mf.dispatchFetch`.

import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Request headers not forwarded to the upstream (hop-by-hop, or set by fetch itself). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length", "expect"]);

async function forward(req, res, { upstream }) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
  const init = { method: req.method, headers };
  if (chunks.length && req.method !== "GET" && req.method !== "HEAD") init.body = Buffer.concat(chunks);
  try {
    const doFetch = typeof upstream === "function" ? upstream : (url, i) => fetch(url, i);
    const base = typeof upstream === "function" ? "http://relay.test/" : upstream;
    const answer = await doFetch(new URL(req.url, base).href, init);
    const body = Buffer.from(await answer.arrayBuffer());
    const out = {};
    answer.headers.forEach((v, k) => {
      if (k !== "content-encoding" && k !== "transfer-encoding") out[k] = v;
    });
    out["content-length"] = body.length;
    res.writeHead(answer.status, out).end(body);
  } catch (e) {
    res.writeHead(502, { "content-type": "text/plain" }).end(`proxy: ${e.message}`);
  }
}

/**
 * Serves `root`; resolves to `{url, requests, proxied, close()}` once listening. `proxy`:
 * `{upstream, prefixes?}` (see the top of this file); `proxied` lists "METHOD /path?query".
 */
export async function serveStatic(root, proxy = null) {
  const requests = [];
  const proxied = [];
  const prefixes = proxy?.prefixes ?? ["/admin/", "/v1/"];
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (proxy && prefixes.some((p) => pathname.startsWith(p))) {
      proxied.push(`${req.method} ${req.url}`);
      forward(req, res, proxy);
      return;
    }
    requests.push(pathname);
    const file = path.join(root, pathname.endsWith("/") ? `${pathname}index.html` : pathname);
    let stat;
    try {
      stat = file.startsWith(root + path.sep) ? statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!stat?.isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "content-length": stat.size,
      "cache-control": "no-store",
    });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    proxied,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
