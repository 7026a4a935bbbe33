// Shared helpers for scripts/up.mjs and scripts/test.mjs.
//
// Plain Node ESM with built-ins only: these scripts run before `npm install`
// has happened, so they cannot import anything from node_modules.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

/** Repository root (scripts/lib/ is two levels down). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where the app keeps local state; same default as server/env.ts. */
export const DATA_DIR = path.resolve(ROOT, process.env.SANDBOXER_DATA_DIR || ".data");

// ---------------------------------------------------------------------------
// Output

/** One line from the script itself, so it stands apart from children's output. */
export function say(msg) {
  process.stdout.write(`[sandboxer] ${msg}\n`);
}

export function warn(msg) {
  process.stderr.write(`[sandboxer] ${msg}\n`);
}

/** Prints and exits: for problems the user must fix before anything can run. */
export function die(msg, code = 1) {
  warn(msg);
  process.exit(code);
}

// ---------------------------------------------------------------------------
// One `npm run up` per data directory

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM"; // it exists, as another user's process
  }
}

/**
 * Claims DATA_DIR for this process until it exits, through `up.lock` (created exclusively; it
 * holds our pid and `info`). The embedded database allows one process per data directory and
 * the private Redis's append-only file one server: a second `npm run up` of the same checkout
 * on another port would open both under the first one's feet. A lock whose process is gone (a
 * SIGKILLed launcher) is taken over. Returns { ok: true } or { ok: false, holder, file }.
 */
export function lockDataDir(info = {}) {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, "up.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd;
    try {
      fd = fs.openSync(file, "wx", 0o600);
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      let holder = null;
      try {
        holder = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch {
        // being written right now, or garbage: look again, then treat as stale
        if (attempt === 0) continue;
      }
      if (holder && Number.isInteger(holder.pid) && holder.pid !== process.pid && isAlive(holder.pid)) {
        return { ok: false, holder, file };
      }
      fs.rmSync(file, { force: true });
      continue;
    }
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, ...info }));
    fs.closeSync(fd);
    process.on("exit", () => {
      try {
        if (JSON.parse(fs.readFileSync(file, "utf8")).pid === process.pid) fs.rmSync(file, { force: true });
      } catch {
        /* already gone */
      }
    });
    return { ok: true, file };
  }
  throw new Error(`could not take ${file}; remove it if no \`npm run up\` is running from this checkout`);
}

// ---------------------------------------------------------------------------
// Small utilities

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Full path of an executable on PATH (plus the sbin dirs apt uses), or null. */
export function findExecutable(name) {
  const dirs = (process.env.PATH || "").split(path.delimiter).filter(Boolean);
  for (const extra of ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/sbin"]) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/**
 * The project's own copy of a CLI (what `npx NAME` would run). Running it
 * directly avoids an extra npm process per child and, unlike npx, never
 * falls back to downloading a same-named package from the registry.
 */
export function localBin(name) {
  const bin = path.join(ROOT, "node_modules", ".bin", name);
  if (!fs.existsSync(bin)) {
    die(`node_modules/.bin/${name} is missing — run \`npm install\` first.`);
  }
  return bin;
}

/** A loopback port nobody is using right now (the OS picks it). */
export function findFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * True if nothing listens on `port`. Binds the wildcard address because that
 * conflicts with a listener on any interface (127.0.0.1, ::1 or all).
 */
export function isPortFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------
// Child processes
//
// Every child is spawned with detached:true, which makes it the leader of its
// own process group. Next.js and `tsx` fork further processes; killing
// the group (kill(-pid)) reaches all of them, so nothing is left behind.
// A registry of live children lets one signal handler clean up whatever is
// running at that moment, whichever step we are in.

const live = new Set();

/** Sends `signal` to the child's whole process group; false if it is gone. */
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of the child's group is still alive. */
function groupAlive(child) {
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns a tracked child in its own process group.
 * `prefix` set: its stdout/stderr lines are relayed as "[prefix] line".
 * `prefix` unset: it writes straight to our terminal (for one-shot steps
 * like npm install or the seed, whose output should arrive untouched).
 */
export function startChild(name, cmd, args, { env = process.env, prefix = null, cwd = ROOT } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", prefix ? "pipe" : "inherit", prefix ? "pipe" : "inherit"],
  });
  child.procName = name;
  live.add(child);
  child.exited = new Promise((resolve) => {
    // Stays in `live` after it exits: processes it forked may still be
    // running in its group, and those must be stopped too.
    child.once("error", (err) => {
      live.delete(child); // never started: there is no group
      resolve({ code: 127, signal: null, error: err });
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  if (prefix) {
    relayLines(child.stdout, process.stdout, `[${prefix}] `);
    relayLines(child.stderr, process.stderr, `[${prefix}] `);
  }
  return child;
}

function relayLines(from, to, tag) {
  readline
    .createInterface({ input: from, crlfDelay: Infinity })
    .on("line", (line) => to.write(tag + line + "\n"));
}

/** Runs a one-shot command to completion; throws (with the command) if it fails. */
export async function runStep(name, cmd, args, opts = {}) {
  say(`${name}: ${[path.relative(ROOT, cmd) || cmd, ...args].join(" ")}`);
  const child = startChild(name, cmd, args, opts);
  const { code, signal, error } = await child.exited;
  if (error) throw new Error(`${name} could not start: ${error.message}`);
  if (code !== 0)
    throw new Error(`${name} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`);
}

/**
 * Stops children: SIGTERM to each process group, wait up to `graceMs` for the
 * groups to empty, then SIGKILL whatever is left.
 */
export async function stopChildren(children, graceMs = 10_000) {
  const targets = children.filter((c) => c.pid && groupAlive(c));
  if (targets.length === 0) return;
  for (const c of targets) killGroup(c, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && targets.some(groupAlive)) await sleep(100);
  for (const c of targets.filter(groupAlive)) {
    warn(`${c.procName} did not stop within ${graceMs / 1000}s; killing it`);
    killGroup(c, "SIGKILL");
  }
}

/**
 * Every started child whose process group still has a member, newest first
 * (so apps stop before redis). Empty groups are forgotten, so a recycled
 * process-group id is never signalled by mistake.
 */
export function liveChildren() {
  for (const c of live) if (!groupAlive(c)) live.delete(c);
  return [...live].reverse();
}

/** Last resort when our own process exits abruptly: no graceful wait possible. */
export function killAllNow() {
  for (const c of liveChildren()) killGroup(c, "SIGKILL");
}

// Whatever happens (uncaught exception, process.exit), don't orphan children.
process.on("exit", killAllNow);

/**
 * Calls `shutdown(signal)` on Ctrl-C / SIGTERM / SIGHUP. A repeated signal
 * more than a second later means "stop now": everything gets SIGKILL.
 * (Within that second it is ignored: Ctrl-C under `npm run` reaches us twice,
 * once from the terminal and once forwarded by npm; `timeout` does the same.)
 */
export function onStopSignal(shutdown) {
  let firstAt = 0;
  const handler = (signal) => {
    if (!firstAt) {
      firstAt = Date.now();
      shutdown(signal);
    } else if (Date.now() - firstAt > 1000) {
      warn(`${signal} again: killing everything now`);
      killAllNow();
      process.exit(130);
    }
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, handler);
}

// ---------------------------------------------------------------------------
// Redis

/**
 * True if something at host:port answers a Redis PING. Speaks RESP over a raw
 * socket so it works before node_modules exists. A "-NOAUTH" error also proves
 * a Redis server is there, so any RESP reply counts; only "+PONG" or "-"
 * replies are accepted so that another protocol on the port doesn't.
 */
export function pingRedis(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host, port });
    let buf = "";
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG") || buf.startsWith("-NOAUTH"));
    });
  });
}

/** Host and port of a redis:// URL (defaults as ioredis applies them). */
export function redisAddress(url) {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: Number(u.port) || 6379,
    tls: u.protocol === "rediss:",
  };
}

/**
 * Picks the Redis the children will use:
 *   1. REDIS_URL, if set (pinged first, so a typo fails here, not deep in the app);
 *   2. with `reuseDefault`, a Redis already answering on 127.0.0.1:6379;
 *   3. otherwise a private redis-server started by startPrivateRedis().
 * SANDBOXER_FORCE_PRIVATE_REDIS=1 skips 1 and 2 (to exercise 3).
 * Returns { url, child } — child is set only for a private server we own.
 */
export async function resolveRedis({ reuseDefault = false, persist = false, databaseUrl = "" } = {}) {
  const forcePrivate = Boolean(process.env.SANDBOXER_FORCE_PRIVATE_REDIS);
  if (process.env.REDIS_URL && !forcePrivate) {
    const { host, port, tls } = redisAddress(process.env.REDIS_URL);
    if (!tls && !(await pingRedis(host, port, 2000))) {
      die(
        `REDIS_URL is set but no Redis answers at ${host}:${port}. Start it, or unset REDIS_URL to use a private one.`,
      );
    }
    say(`using Redis from REDIS_URL (${host}:${port})`);
    return { url: process.env.REDIS_URL, child: null };
  }
  if (reuseDefault && !forcePrivate && (await pingRedis("127.0.0.1", 6379, 1000))) {
    say("using the Redis already running on 127.0.0.1:6379");
    return { url: "redis://127.0.0.1:6379/", child: null };
  }
  const redis = await startPrivateRedis({ persist, databaseUrl });
  say(
    `started a private redis-server on 127.0.0.1:${redis.port} (stopped when this command ends` +
      (persist ? `; its data is kept in ${path.relative(ROOT, redis.dir)} for the next run)` : ")"),
  );
  return redis;
}

/**
 * Makes sure `redis-server` exists. As root with apt-get available we install
 * it (a fresh Debian/Ubuntu laptop or CI box); otherwise we tell the user the
 * one command to run rather than guessing at sudo.
 */
export function ensureRedisServerBinary() {
  let bin = findExecutable("redis-server");
  if (bin) return bin;
  const canApt =
    typeof process.getuid === "function" && process.getuid() === 0 && findExecutable("apt-get");
  if (!canApt) {
    die(
      "redis-server is not installed. Install it with:\n\n" +
        "    sudo apt-get install -y redis-server\n\n" +
        "(macOS: `brew install redis`), or point REDIS_URL at a Redis you already run.",
    );
  }
  say("redis-server not found; installing it: apt-get update && apt-get install -y redis-server");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "redis-server"]]) {
    const r = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (r.status !== 0)
      die(`apt-get ${args.join(" ")} failed (exit ${r.status}); install redis-server yourself.`);
  }
  bin = findExecutable("redis-server");
  if (!bin) die("apt-get reported success but redis-server is still not on PATH.");
  return bin;
}

/**
 * Starts a private redis-server on a free loopback port as a child (daemonize
 * no: it lives and dies with us). With `persist`, it keeps an append-only file
 * under .data/redis (fsync every second), so the queue's delayed TTL jobs and
 * the simulated provider's sandboxes survive a restart of `npm run up` — the
 * embedded database under .data does, and the two must agree. Without it
 * (tests), nothing is written.
 * Returns { url, port, child, dir }.
 */
export async function startPrivateRedis({ prefix = "redis", deadlineMs = 15_000, persist = false, databaseUrl = "" } = {}) {
  const bin = ensureRedisServerBinary();
  const dir = path.join(DATA_DIR, redisDirName(databaseUrl));
  fs.mkdirSync(dir, { recursive: true });

  // The free port we found could be taken before redis binds it; retry then.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await findFreePort();
    // prettier-ignore
    const args = [
      "--port", String(port), "--bind", "127.0.0.1",
      "--save", "", "--appendonly", persist ? "yes" : "no", "--appendfsync", "everysec", "--dir", dir,
      "--maxmemory-policy", "noeviction", "--hz", "100", "--daemonize", "no",
      "--loglevel", "warning", // keep the startup banner out of our output
    ];
    const child = startChild("redis", bin, args, { prefix });
    const ready = await waitForRedis(child, port, deadlineMs);
    if (ready) return { url: `redis://127.0.0.1:${port}`, port, child, dir };
    await stopChildren([child], 2_000);
    warn(`private redis-server on port ${port} did not come up (attempt ${attempt}/3)`);
  }
  die("could not start a private redis-server; see its output above.");
}

/**
 * The private Redis keeps the queue and the simulated provider's sandboxes of one database, so
 * each database gets its own folder: `redis` for the embedded PGlite, `redis-pg-<hash>` for a
 * DATABASE_URL (its host, port and database name; not the password). Otherwise switching
 * DATABASE_URL on or off would hand one database's TTL jobs and stub sandboxes to the other,
 * whose reconciler would kill them as orphans.
 */
export function redisDirName(databaseUrl) {
  if (!databaseUrl) return "redis";
  let identity = databaseUrl;
  try {
    const u = new URL(databaseUrl);
    identity = `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    // Not a URL (a libpq key=value string): hash it whole.
  }
  return `redis-pg-${crypto.createHash("sha256").update(identity).digest("hex").slice(0, 12)}`;
}

/** Polls PING until the server answers, the child dies, or the deadline passes. */
async function waitForRedis(child, port, deadlineMs) {
  let exited = false;
  child.exited.then(() => (exited = true));
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline && !exited) {
    if (await pingRedis("127.0.0.1", port, 500)) return true;
    await sleep(100);
  }
  return false;
}
