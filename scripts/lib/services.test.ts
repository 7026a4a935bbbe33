/**
 * The launcher's private Redis: `npm run up` keeps its data across restarts (the embedded
 * database under .data does, and the simulated provider's sandboxes and the delayed TTL jobs
 * live in this Redis), while the test runner's stays throwaway.
 */
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
  it("keeps its data across a restart when the launcher asks it to persist", async () => {
    expect(await roundTrip(true)).toBe("kept");
    expect(fs.existsSync(path.join(dataDir, "redis", "appendonlydir"))).toBe(true);
  });

  it("is throwaway otherwise", async () => {
    fs.rmSync(path.join(dataDir, "redis"), { recursive: true, force: true });
    expect(await roundTrip(false)).toBeNull();
  });
});
