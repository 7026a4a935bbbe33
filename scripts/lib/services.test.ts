/**
 * The launcher's private Redis: `npm run up` keeps its data across restarts (the embedded
 * database under .data does, and the simulated provider's sandboxes and the delayed TTL jobs
 * live in this Redis), while the test runner's stays throwaway.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type Services = typeof import("./services.mjs");
let services: Services;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-redis-persist-"));

beforeAll(async () => {
  process.env.SANDBOXER_DATA_DIR = dataDir; // read when the module loads
  services = await import("./services.mjs");
});
afterAll(() => {
  delete process.env.SANDBOXER_DATA_DIR;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function roundTrip(persist: boolean) {
  const first = (await services.startPrivateRedis({ persist }))!;
  const a = new Redis(first.url);
  await a.set("sandbox:probe", persist ? "kept" : "gone");
  await a.quit();
  await services.stopChildren([first.child], 5_000); // SIGTERM: Redis flushes its AOF on the way out
  const second = (await services.startPrivateRedis({ persist }))!;
  const b = new Redis(second.url);
  const value = await b.get("sandbox:probe");
  await b.quit();
  await services.stopChildren([second.child], 5_000);
  return value;
}

describe("the private Redis", () => {
  it("keeps each database's data in its own folder, never keyed on the password", () => {
    expect(services.redisDirName("")).toBe("redis");
    const a = services.redisDirName("postgres://u:one@db.internal:5433/sbx");
    expect(a).toMatch(/^redis-pg-[0-9a-f]{12}$/);
    expect(services.redisDirName("postgres://u:rotated@db.internal:5433/sbx?sslmode=require")).toBe(a);
    expect(services.redisDirName("postgres://u:one@db.internal:5433/other")).not.toBe(a);
    expect(services.redisDirName("postgres://u:one@db.internal/sbx")).toBe(services.redisDirName("postgres://u:one@db.internal:5432/sbx"));
  });

  it("keeps its data across a restart when the launcher asks it to persist", async () => {
    expect(await roundTrip(true)).toBe("kept");
    expect(fs.existsSync(path.join(dataDir, "redis", "appendonlydir"))).toBe(true);
  });

  it("is throwaway otherwise", async () => {
    fs.rmSync(path.join(dataDir, "redis"), { recursive: true, force: true });
    expect(await roundTrip(false)).toBeNull();
  });
});

describe("one `npm run up` per data directory", () => {
  const lockFile = () => path.join(dataDir, "up.lock");
  /** A live process that is not this one, to hold the lock. */
  const holder = () => spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });

  it("takes a free data directory, refuses one a live process holds and takes over a dead one's", async () => {
    fs.rmSync(lockFile(), { force: true });
    const other = holder();
    try {
      fs.writeFileSync(lockFile(), JSON.stringify({ pid: other.pid, port: 3611 }));
      expect(services.lockDataDir({ port: 3612 })).toMatchObject({ ok: false, holder: { pid: other.pid, port: 3611 }, file: lockFile() });
    } finally {
      other.kill("SIGKILL");
      await new Promise((r) => other.once("exit", r));
    }
    // Its launcher was SIGKILLed: the lock is stale.
    expect(services.lockDataDir({ port: 3612 })).toEqual({ ok: true, file: lockFile() });
    expect(JSON.parse(fs.readFileSync(lockFile(), "utf8"))).toEqual({ pid: process.pid, port: 3612 });
    fs.rmSync(lockFile(), { force: true });
  });

  it("npm run up refuses to start a second server on a data directory in use, before touching Redis or the database", async () => {
    const other = holder();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-up-lock-"));
    try {
      fs.writeFileSync(path.join(dir, "up.lock"), JSON.stringify({ pid: other.pid, port: 3611 }));
      const up = spawnSync(process.execPath, [path.join(services.ROOT, "scripts", "up.mjs"), "--port", "3612"], {
        env: { ...process.env, SANDBOXER_DATA_DIR: dir, REDIS_URL: "" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(up.status).toBe(1);
      expect(up.stderr).toContain(`another \`npm run up\` (pid ${other.pid}, serving http://127.0.0.1:3611) is using ${dir}/ — `);
      expect(up.stderr).toContain("SANDBOXER_DATA_DIR=<another folder>");
      expect(fs.readdirSync(dir)).toEqual(["up.lock"]); // no redis/, no pglite/, no auth-secret
    } finally {
      other.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm run up refuses a PORT that is not a port instead of quietly using 3000", () => {
    for (const [env, args, from] of [
      [{ PORT: "abc" }, [], 'PORT="abc"'],
      [{ PORT: "70000" }, [], 'PORT="70000"'],
      [{}, ["--port", "3e3"], '--port "3e3"'],
      [{}, ["--port", ""], '--port ""'],
      [{}, ["--port=0x10"], '--port "0x10"'],
    ] as const) {
      const up = spawnSync(process.execPath, [path.join(services.ROOT, "scripts", "up.mjs"), ...args], {
        env: { ...process.env, SANDBOXER_DATA_DIR: dataDir, ...env },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(up.status, `${from}: ${String(up.error)} ${up.stdout}`).toBe(1);
      expect(up.stderr).toMatch(new RegExp(`^\\[sandboxer\\] invalid port \\(${from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\): a port is a whole number from 1 to 65535`));
    }
  });
});
