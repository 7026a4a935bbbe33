#!/usr/bin/env node
// Playwright's webServer: a production build of the console on a throwaway embedded database.
//
//   1. wipes .data/e2e (every run starts from an empty database);
//   2. `next build` (skip with E2E_SKIP_BUILD=1 when .next is already a build of this tree);
//   3. migrations, in their own process: PGlite is single-connection, so it must be closed
//      before the web server opens it;
//   4. the OpenBao (KV v2) and E2B fakes, each its own process on a fixed port next to the
//      server's (E2E_OPENBAO_URL, E2E_E2B_URL; see e2e/fakes.ts), so specs can bind team keys
//      that resolve and watch routing move to E2B. No platform E2B or Modal key is set;
//   5. the web server (server/http/web.mjs, as `npm start`) with the lifecycle worker embedded, on its own Redis key prefix, pointed at
//      the fakes (SANDBOXER_OPENBAO_ADDR/TOKEN, SANDBOXER_E2B_API_URL).
// SIGTERM/SIGINT from Playwright are passed on so the server stops its worker cleanly, and the
// fakes are stopped with it.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PORT = process.env.E2E_PORT ?? "3947";
const DATA_DIR = path.join(ROOT, ".data", "e2e");
const bin = (name) => path.join(ROOT, "node_modules", ".bin", name);
// Keep in step with e2e/fakes.ts (Playwright passes these in; the defaults are for running alone).
const OPENBAO_URL = process.env.E2E_OPENBAO_URL ?? `http://127.0.0.1:${Number(PORT) + 1}`;
const OPENBAO_TOKEN = process.env.E2E_OPENBAO_TOKEN ?? "e2e-openbao-token";
const E2B_URL = process.env.E2E_E2B_URL ?? `http://127.0.0.1:${Number(PORT) + 2}`;

const env = {
  ...process.env,
  // Never a developer's own database: the e2e run gets an embedded one it can wipe.
  DATABASE_URL: "",
  SANDBOXER_DATA_DIR: DATA_DIR,
  SANDBOXER_EMBEDDED_WORKER: "1",
  SANDBOXER_URL: `http://127.0.0.1:${PORT}`,
  SANDBOXER_QUEUE_PREFIX: `e2e-${randomBytes(4).toString("hex")}`,
  SANDBOXER_LOG_LEVEL: process.env.SANDBOXER_LOG_LEVEL ?? "warn",
  BETTER_AUTH_SECRET: "e2e-only-secret-not-for-production-0123456789",
  NEXT_TELEMETRY_DISABLED: "1",
  // Team keys come from the OpenBao fake; the platform has no provider keys of its own.
  SANDBOXER_OPENBAO_ADDR: OPENBAO_URL,
  SANDBOXER_OPENBAO_TOKEN: OPENBAO_TOKEN,
  SANDBOXER_BYOK_SCHEMES: "openbao",
  // The spec binds a fixed path without knowing the team id; path scoping is unit-tested.
  SANDBOXER_BYOK_OPENBAO_PATH: "*",
  SANDBOXER_E2B_API_URL: E2B_URL,
  SANDBOXER_E2B_READY_POLL_MS: "100",
  SANDBOXER_METRICS_TOKEN: process.env.E2E_METRICS_TOKEN ?? "e2e-metrics-token-0123456789abcdef",
  E2B_API_KEY: "",
  MODAL_TOKEN_ID: "",
  MODAL_TOKEN_SECRET: "",
};
delete env.DATABASE_URL;

let child = null;
let stopping = false;
const fakes = [];
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    stopping = true;
    if (child) child.kill(sig);
    else process.exit(0);
  });
}
process.on("exit", () => {
  for (const f of fakes) if (f.exitCode === null) f.kill("SIGTERM");
});

/** Starts a fake as a child process and waits for its "listening on" line. */
function startFake(name, args) {
  return new Promise((resolve, reject) => {
    const fake = spawn(bin("tsx"), args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
    fakes.push(fake);
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30s`)), 30_000);
    fake.stdout.setEncoding("utf8");
    fake.stdout.on("data", (chunk) => {
      if (out === null) return;
      out += chunk;
      if (/listening on/.test(out)) {
        out = null;
        clearTimeout(timer);
        resolve();
      }
    });
    fake.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (!stopping) reject(new Error(`${name} exited with ${signal ?? code}`));
    });
  });
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    child = spawn(cmd, args, { cwd: ROOT, env, stdio: "inherit" });
    child.on("exit", (code, signal) => {
      child = null;
      if (stopping) process.exit(0);
      if (code === 0) resolve();
      else
        reject(new Error(`${path.basename(cmd)} ${args[0] ?? ""} exited with ${signal ?? code}`));
    });
  });
}

try {
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
  if (process.env.E2E_SKIP_BUILD !== "1") await run(bin("next"), ["build"]);
  await run(bin("tsx"), ["db/migrate-main.ts"]);
  await Promise.all([
    startFake("openbao fake", [
      "server/testing/openbao-fake-main.ts",
      "--port",
      new URL(OPENBAO_URL).port,
      "--token",
      OPENBAO_TOKEN,
    ]),
    startFake("e2b fake", ["adapters/e2b/fake/main.ts", "--port", new URL(E2B_URL).port]),
  ]);
  await run(process.execPath, ["server/http/web.mjs", "-p", PORT, "-H", "127.0.0.1"]);
} catch (err) {
  console.error(`[e2e server] ${err.message}`);
  process.exit(1);
}
