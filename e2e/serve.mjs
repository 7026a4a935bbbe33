#!/usr/bin/env node
// Playwright's webServer: a production build of the console on a throwaway embedded database.
//
//   1. wipes .data/e2e (every run starts from an empty database);
//   2. `next build` (skip with E2E_SKIP_BUILD=1 when .next is already a build of this tree);
//   3. migrations, in their own process: PGlite is single-connection, so it must be closed
//      before `next start` opens it;
//   4. `next start` with the lifecycle worker embedded, on its own Redis key prefix.
// SIGTERM/SIGINT from Playwright are passed on so the server stops its worker cleanly.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PORT = process.env.E2E_PORT ?? "3947";
const DATA_DIR = path.join(ROOT, ".data", "e2e");
const bin = (name) => path.join(ROOT, "node_modules", ".bin", name);

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
};
delete env.DATABASE_URL;

let child = null;
let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    stopping = true;
    if (child) child.kill(sig);
    else process.exit(0);
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
  await run(bin("next"), ["start", "-p", PORT, "-H", "127.0.0.1"]);
} catch (err) {
  console.error(`[e2e server] ${err.message}`);
  process.exit(1);
}
