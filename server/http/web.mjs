#!/usr/bin/env node
// The console's web server: Next.js behind a plain node:http server, so the app learns who sent
// each request from the socket rather than from a header any client can write. `next start`
// takes a client's own X-Forwarded-For as given, and sign-in rate limits key on it.
//
//   node server/http/web.mjs [-p PORT] [-H HOST] [--dev]
//
// SANDBOXER_TRUSTED_PROXIES (comma-separated addresses or CIDR ranges): reverse proxies whose
// X-Forwarded-For is kept (docs/operations.md). SIGTERM/SIGINT: stop accepting, then exit
// (the embedded worker, when there is one, finishes its jobs first: jobs/embedded-worker.ts).
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import next from "next";
import { forwardedFor, parseTrustedProxies } from "./client-address.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

let args;
let trusted;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: "string", short: "p", default: process.env.PORT ?? "3000" },
      hostname: { type: "string", short: "H", default: "0.0.0.0" },
      dev: { type: "boolean", default: false },
    },
  }));
  if (!/^\d+$/.test(args.port) || Number(args.port) < 1 || Number(args.port) > 65535) {
    throw new Error(`--port: "${args.port}" is not a port number (1–65535)`);
  }
  trusted = parseTrustedProxies(process.env.SANDBOXER_TRUSTED_PROXIES);
} catch (err) {
  console.error(`web: ${err.message}`);
  process.exit(2);
}

const port = Number(args.port);
if (!args.dev) process.env.NODE_ENV ??= "production";
const app = next({ dev: args.dev, dir: ROOT, hostname: args.hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  const xff = forwardedFor(req.socket.remoteAddress, req.headers["x-forwarded-for"], trusted);
  if (xff) req.headers["x-forwarded-for"] = xff;
  else delete req.headers["x-forwarded-for"];
  void handle(req, res);
});
server.listen(port, args.hostname, () => {
  console.log(`web: listening on http://${args.hostname}:${port}${args.dev ? " (dev)" : ""}`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.once(sig, () => {
    // Stop accepting and let requests in flight finish (up to 10 s). With an embedded worker,
    // its own handler exits the process once its jobs are done.
    server.close(() => {
      if (process.env.SANDBOXER_EMBEDDED_WORKER !== "1") process.exit(0);
    });
    server.closeIdleConnections();
    if (process.env.SANDBOXER_EMBEDDED_WORKER !== "1")
      setTimeout(() => process.exit(0), 10_000).unref();
  });
}
