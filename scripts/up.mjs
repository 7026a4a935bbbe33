#!/usr/bin/env node
// `npm run up` — the one command a newcomer runs to get Sandboxer going locally.
//
// Steps: install deps if needed → Redis (REDIS_URL or a private redis-server)
// → auth secret → migrate → seed → build (if stale) → start web (+ worker
// when on Postgres) → wait for /api/health → print how to use it.
// Ctrl-C stops every process this started. See docs/development.md.
//
// Built-ins only: this runs before node_modules exists.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  DATA_DIR,
  ROOT,
  die,
  lockDataDir,
  findFreePort,
  isPortFree,
  liveChildren,
  localBin,
  onStopSignal,
  resolveRedis,
  runStep,
  say,
  sleep,
  startChild,
  stopChildren,
  warn,
} from "./lib/services.mjs";

const USAGE = `Usage: npm run up -- [--dev] [--fakes] [--byok] [--port N] [--host ADDR]

  --dev        run Next.js in dev mode (hot reload) instead of building first
  --fakes      start local fakes of the cloud providers (E2B, Modal) and point the
               app at them, with fake keys; also sets SANDBOXER_FAKES=1.
               Never on by default.
  --byok       like --fakes, plus a local OpenBao fake for team keys, and NO platform
               provider keys: burst-sandbox runs on the stub until a team binds its own
               key (docs/payments.md, "Try it offline").
  --port N     web port (default: $PORT, else 3000)
  --host ADDR  address the web server listens on (default 127.0.0.1;
               use 0.0.0.0 to reach it from other machines)

Environment: REDIS_URL (else a private redis-server is started),
DATABASE_URL (else embedded PGlite in .data/), BETTER_AUTH_SECRET
(else kept in .data/auth-secret), PORT.`;

const HEALTH_DEADLINE_MS = 120_000;

// Local fakes of cloud providers that `--fakes` starts, each a child process on a free loopback
// port. `env` is what the web and worker processes get so the provider's extension talks to the
// fake (with a key the fake accepts) instead of the real API; it also gets the JSON the health
// check answered, if any. Add a provider here.
const FAKES = [
  {
    name: "e2b-fake",
    what: "E2B API fake (ext.e2b)",
    args: (port) => ["adapters/e2b/fake/main.ts", "--port", String(port)],
    healthPath: "/_fake/health",
    env: (url) => ({ SANDBOXER_E2B_API_URL: url, E2B_API_KEY: `e2b_${"0".repeat(40)}` }),
  },
  {
    // `port` is its HTTP control surface; the gRPC server the SDK talks to takes a free port of
    // its own and is named in the health answer. The token pair is the one the fake accepts.
    name: "modal-fake",
    what: "Modal gRPC fake (ext.modal)",
    args: (port) => ["adapters/modal/fake/main.ts", "--port", String(port)],
    healthPath: "/_fake/health",
    env: (url, health) => ({
      SANDBOXER_MODAL_SERVER_URL:
        health.grpcUrl ?? die(`modal-fake: ${url}/_fake/health named no grpcUrl`),
      MODAL_TOKEN_ID: "ak-sandboxerfake0000000000",
      MODAL_TOKEN_SECRET: "as-sandboxerfake0000000000",
    }),
  },
];
// With --byok: a secret store for team keys, and the providers' fakes without platform keys.
const BYOK_FAKE = {
  name: "openbao-fake",
  what: "OpenBao KV v2 fake (team keys; token sandboxer-fake-root)",
  args: (port) => ["server/testing/openbao-fake-main.ts", "--port", String(port), "--token", "sandboxer-fake-root"],
  healthPath: "/v1/sys/health",
  env: (url) => ({ SANDBOXER_OPENBAO_ADDR: url, SANDBOXER_OPENBAO_TOKEN: "sandboxer-fake-root" }),
};
const PLATFORM_KEYS = ["E2B_API_KEY", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"];
const FAKE_DEADLINE_MS = 30_000;

// Sources whose change makes the production build in .next/ stale.
// (Missing ones are simply skipped.)
const BUILD_INPUT_DIRS = [
  "app",
  "server",
  "jobs",
  "adapters",
  "db",
  "profiles",
  "lib",
  "components",
  "public",
];
// prettier-ignore
const BUILD_INPUT_FILES = [
  "next.config.ts", "tsconfig.json", "package.json", "package-lock.json",
  "postcss.config.mjs", "instrumentation.ts", "middleware.ts", "proxy.ts",
];

let stopping = null; // the shutdown promise, once shutdown has begun

main().catch((err) => {
  if (stopping) return; // a signal or a dead child already explains the failure
  shutdown(1, err.message);
});

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  process.chdir(ROOT);
  // Before the port check: with the same checkout already running, "pick another port" would
  // start a second server on the same embedded database and Redis data.
  const lock = lockDataDir({ port: opts.port, startedAt: new Date().toISOString() });
  if (!lock.ok) {
    const { pid, port } = lock.holder;
    die(
      `another \`npm run up\` (pid ${pid}${port ? `, serving http://127.0.0.1:${port}` : ""}) is using ${DATA_DIR.startsWith(ROOT + path.sep) ? path.relative(ROOT, DATA_DIR) : DATA_DIR}/ — ` +
        `its embedded database and Redis data take one server at a time. Use that one, or stop it (Ctrl-C in its terminal) and run this again; ` +
        `for a second, separate instance use another checkout or SANDBOXER_DATA_DIR=<another folder>. ` +
        `(If no such process is running, delete ${lock.file}.)`,
    );
  }
  onStopSignal((signal) => shutdown(0, `${signal} received, stopping…`));

  await assertPortFree(opts.port);
  await ensureDependencies();
  fs.mkdirSync(DATA_DIR, { recursive: true });

  const env = childEnv(opts);
  if (opts.fakes)
    say("fakes are ON: SANDBOXER_FAKES=1 is set for every process (cloud providers are simulated)");
  env.REDIS_URL = await startRedis(env.DATABASE_URL);
  const fakes = opts.fakes ? await startFakes(env, opts.byok ? [...FAKES, BYOK_FAKE] : FAKES) : [];
  // No platform keys with --byok, so routing moves only when a team binds its own.
  if (opts.byok) for (const name of PLATFORM_KEYS) env[name] = "";
  if (!env.BETTER_AUTH_SECRET) env.BETTER_AUTH_SECRET = loadOrCreateAuthSecret();

  await runStep("migrate", localBin("tsx"), ["db/migrate-main.ts"], { env });
  await runStep("seed", localBin("tsx"), ["db/seed-main.ts"], { env });

  if (!opts.dev) {
    const reason = buildStaleReason();
    if (reason) {
      say(`building the web app (${reason})`);
      await runStep("build", localBin("next"), ["build"], { env });
    } else {
      say("web build is up to date (.next/BUILD_ID is newer than the sources)");
    }
  }

  await assertPortFree(opts.port); // the build can take minutes; check again
  startApp(opts, env);
  await waitForHealthy(opts.port);
  printBanner(opts, env, fakes);
}

// ---------------------------------------------------------------------------
// Arguments and environment

/** Digits only (Number() would take "3e3", "0x10" or " 1 2"), else NaN. */
function parsePort(text) {
  return /^\d{1,5}$/.test(text?.trim() ?? "") ? Number(text.trim()) : NaN;
}

function parseArgs(argv) {
  const opts = {
    dev: false,
    fakes: false,
    byok: false,
    // An empty PORT means unset; anything else must be a port (PORT=abc was quietly 3000).
    port: process.env.PORT?.trim() ? parsePort(process.env.PORT) : 3000,
    portFrom: `PORT=${JSON.stringify(process.env.PORT ?? "")}`,
    host: "127.0.0.1",
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    if (flag === "--dev") opts.dev = true;
    else if (flag === "--fakes") opts.fakes = true;
    else if (flag === "--byok") opts.fakes = opts.byok = true;
    else if (flag === "--port") {
      const given = value();
      opts.port = parsePort(given);
      opts.portFrom = `--port ${JSON.stringify(given ?? "")}`;
    }
    else if (flag === "--host") opts.host = value();
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else die(`unknown argument: ${argv[i]}\n\n${USAGE}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)
    die(`invalid port (${opts.portFrom}): a port is a whole number from 1 to 65535\n\n${USAGE}`);
  if (!opts.host) die(`--host needs an address\n\n${USAGE}`);
  return opts;
}

/** Environment shared by every child: where the app is reachable, and flags. */
function childEnv(opts) {
  const env = { ...process.env };
  if (!env.DATABASE_URL) delete env.DATABASE_URL; // "" means unset: use PGlite
  const url = `http://127.0.0.1:${opts.port}`;
  env.PORT = String(opts.port);
  env.SANDBOXER_URL = url;
  env.BETTER_AUTH_URL = url;
  if (opts.fakes) env.SANDBOXER_FAKES = "1";
  env.NEXT_TELEMETRY_DISABLED ??= "1"; // a local run has no business phoning home
  // Children's output goes through a pipe; keep colours if we have a terminal.
  if (process.stdout.isTTY && !env.NO_COLOR) env.FORCE_COLOR ??= "1";
  return env;
}

async function assertPortFree(port) {
  if (await isPortFree(port)) return;
  throw new Error(
    `port ${port} is already in use — another Sandboxer or some other server is listening on it.\n` +
      `Stop that process, or pick another port: npm run up -- --port ${port + 1}`,
  );
}

// ---------------------------------------------------------------------------
// Dependencies

async function ensureDependencies() {
  const reason = dependenciesStaleReason();
  if (!reason) return;
  say(`installing dependencies (${reason})`);
  // Browsers for Playwright come from the OS (chromium), never a download.
  const env = { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1" };
  await runStep("npm install", "npm", ["install", "--no-audit", "--no-fund"], { env });
  // npm leaves node_modules untouched when nothing changed; mark it fresh so
  // the next run doesn't reinstall.
  const now = new Date();
  fs.utimesSync(path.join(ROOT, "node_modules"), now, now);
}

function dependenciesStaleReason() {
  const nm = path.join(ROOT, "node_modules");
  if (!fs.existsSync(nm)) return "node_modules is missing";
  const installedAt = Math.max(mtimeMs(nm), mtimeMs(path.join(nm, ".package-lock.json")));
  for (const file of ["package-lock.json", "package.json"]) {
    if (mtimeMs(path.join(ROOT, file)) > installedAt)
      return `${file} changed since the last install`;
  }
  return null;
}

function mtimeMs(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------
// Services and secrets

/** REDIS_URL if given, else a private redis-server that lives as long as we do. */
async function startRedis(databaseUrl) {
  const redis = await resolveRedis({ persist: true, databaseUrl });
  if (redis.child) watch(redis.child);
  return redis.url;
}

/** The secret better-auth signs sessions with; kept so sign-ins survive restarts. */
function loadOrCreateAuthSecret() {
  const file = path.join(DATA_DIR, "auth-secret");
  try {
    const secret = fs.readFileSync(file, "utf8").trim();
    if (secret.length >= 32) return secret;
  } catch {
    // not created yet
  }
  const secret = crypto.randomBytes(32).toString("hex");
  fs.writeFileSync(file, secret + "\n", { mode: 0o600 });
  say(`created a new auth secret in ${path.relative(ROOT, file)}`);
  return secret;
}

/** Starts every fake, waits until each answers, and points `env` at them. */
async function startFakes(env, fakeList) {
  const started = [];
  for (const fake of fakeList) {
    const port = await findFreePort();
    const url = `http://127.0.0.1:${port}`;
    say(`starting ${fake.what} on ${url}`);
    const child = startChild(fake.name, localBin("tsx"), fake.args(port), {
      env,
      prefix: fake.name,
    });
    watch(child);
    const deadline = Date.now() + FAKE_DEADLINE_MS;
    let health = null;
    for (;;) {
      try {
        const res = await fetch(url + fake.healthPath, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) {
          health = await res.json().catch(() => null);
          break;
        }
      } catch {
        // not listening yet
      }
      if (stopping) await stopping;
      if (Date.now() > deadline)
        throw new Error(`${fake.name} did not answer on ${url} within ${FAKE_DEADLINE_MS / 1000}s`);
      await sleep(200);
    }
    Object.assign(env, fake.env(url, health ?? {}));
    started.push({ ...fake, url });
  }
  return started;
}

// ---------------------------------------------------------------------------
// Build

function buildStaleReason() {
  const buildId = path.join(ROOT, ".next", "BUILD_ID");
  const builtAt = mtimeMs(buildId);
  if (!builtAt) return "no previous build";
  const inputs = [
    ...BUILD_INPUT_DIRS.flatMap((d) => listFiles(path.join(ROOT, d))),
    ...BUILD_INPUT_FILES.map((f) => path.join(ROOT, f)),
  ];
  const newer = inputs.find((f) => mtimeMs(f) > builtAt);
  return newer ? `${path.relative(ROOT, newer)} changed since the last build` : null;
}

function listFiles(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    if (e.name === "node_modules" || e.name.startsWith(".")) return [];
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(p) : [p];
  });
}

// ---------------------------------------------------------------------------
// Running the app

/**
 * PGlite allows one process per data directory, so without DATABASE_URL the
 * web process also runs the worker. With Postgres they are separate processes,
 * as in production.
 */
function startApp(opts, env) {
  const embedded = !env.DATABASE_URL;
  const webArgs = ["server/http/web.mjs", ...(opts.dev ? ["--dev"] : []), "-p", String(opts.port), "-H", opts.host];
  const webEnv = { ...env, SANDBOXER_EMBEDDED_WORKER: embedded ? "1" : "0" };
  say(`starting web: node ${webArgs.join(" ")}${embedded ? " (worker embedded)" : ""}`);
  watch(startChild("web", process.execPath, webArgs, { env: webEnv, prefix: "web" }));
  if (!embedded) {
    say("starting worker: tsx jobs/worker-main.ts");
    const workerEnv = { ...env, SANDBOXER_EMBEDDED_WORKER: "0" };
    watch(
      startChild("worker", localBin("tsx"), ["jobs/worker-main.ts"], {
        env: workerEnv,
        prefix: "worker",
      }),
    );
  }
}

/** A long-running child must not exit on its own: if it does, stop everything. */
function watch(child) {
  child.exited.then(({ code, signal, error }) => {
    if (stopping) return;
    const how = error ? error.message : signal ? `killed by ${signal}` : `exit code ${code}`;
    shutdown(1, `${child.procName} exited unexpectedly (${how}); stopping the rest.`);
  });
}

async function waitForHealthy(port) {
  const url = `http://127.0.0.1:${port}/api/health`;
  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  say(`waiting for ${url} …`);
  while (!stopping) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${url} did not return 200 within ${HEALTH_DEADLINE_MS / 1000}s`);
    await sleep(500);
  }
  await stopping; // shutting down: never resolve into the banner
}

function printBanner(opts, env, fakes) {
  const url = env.SANDBOXER_URL;
  const credsFile = path.join(DATA_DIR, "demo-credentials.txt");
  const creds = fs.existsSync(credsFile)
    ? `the demo credentials and API token are in ${path.relative(ROOT, credsFile)}`
    : "use the demo credentials printed above by the seed step";
  const lines = [
    `Sandboxer is running at ${url}`,
    ...(opts.host !== "127.0.0.1" ? [`(listening on ${opts.host}:${opts.port})`] : []),
    "",
    `Sign in:  ${creds}`,
    `Database: ${env.DATABASE_URL ? "Postgres (DATABASE_URL)" : `embedded PGlite in ${path.relative(ROOT, DATA_DIR)}/`}`,
    `Worker:   ${env.DATABASE_URL ? "separate process [worker]" : "inside the web process"}`,
    ...(opts.fakes ? ["Fakes:    ON — SANDBOXER_FAKES=1, cloud providers are simulated"] : []),
    ...fakes.map((f) => `          ${f.what} at ${f.url} (control: ${f.url}/_fake/…)`),
    ...(opts.dev ? ["Mode:     next dev (hot reload)"] : []),
    "",
    "Use the CLI from another terminal:",
    `  export SANDBOXER_URL=${url} SANDBOXER_API_KEY=<token>`,
    ...(opts.byok
      ? [
          "  npx sandboxer create --profile burst-sandbox --ttl 30s --wait   (on the stub until a team key is bound)",
        ]
      : [
          "  npx sandboxer create --profile burst-sandbox --ttl 30s --wait",
          ...(fakes.some((f) => f.name === "e2b-fake")
            ? ["  npx sandboxer create --profile e2b-burst --ttl 2m --wait   (on the E2B fake)"]
            : []),
          ...(fakes.some((f) => f.name === "modal-fake")
            ? [
                "  npx sandboxer create --profile modal-gpu --ttl 10m --wait  (A100 on the Modal fake)",
              ]
            : []),
        ]),
    "  npx sandboxer ls",
    "  npx sandboxer balance",
    ...(opts.byok
      ? [
          "",
          "Team keys (BYOK): no platform provider keys are set, so e2b-burst and modal-gpu are refused",
          '(exit 7, "credentials not available") until your team binds its own key: store one in the',
          'OpenBao fake and bind it in Settings → Provider keys (docs/payments.md, "Try it offline").',
          "With ext.e2b bound, burst-sandbox and e2b-burst run on the E2B fake with your team's key:",
          "  npx sandboxer create --profile e2b-burst --ttl 2m --wait",
        ]
      : []),
    "",
    "Press Ctrl-C to stop everything.",
  ];
  const rule = "=".repeat(72);
  process.stdout.write(
    `\n${rule}\n${lines.map((l) => (l ? `  ${l}` : "")).join("\n")}\n${rule}\n\n`,
  );
}

// ---------------------------------------------------------------------------
// Shutdown

/**
 * Stops every child (apps first, so the worker can finish talking to Redis,
 * then Redis) and exits with `code`. Idempotent: the first caller wins.
 */
function shutdown(code, message) {
  if (stopping) return stopping;
  stopping = (async () => {
    if (code === 0) say(message);
    else warn(message);
    const children = liveChildren();
    const redis = children.filter((c) => c.procName === "redis");
    await stopChildren(
      children.filter((c) => !redis.includes(c)),
      10_000,
    );
    await stopChildren(redis, 5_000);
    process.exit(code);
  })();
  return stopping;
}
