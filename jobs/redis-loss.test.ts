/**
 * A Redis that loses everything (FLUSHALL, or a restart without persistence) also loses the
 * job schedulers: without the sweep, nothing would re-enqueue the TTL teardowns that vanished
 * with it. The worker puts missing schedulers back, and the sweep then tears down what is due.
 * Runs on a private redis-server (the shared one is never flushed).
 */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasRedisServer, PrivateRedis, sleep } from "../bench/chaos/procs";
import { sandboxEvents, sandboxes } from "../db/schema";
import { loadEnv } from "../server/env";
import { createLogger } from "../server/logger";
import { createRuntime, type Runtime } from "../server/runtime";
import { createSandbox } from "../server/services/sandboxes";
import { deleteKeys, openTestDb, redisUrl, seedTeam } from "../server/testing/harness";
import { startWorkers, type StartedWorkers } from "./worker";

const skip = !hasRedisServer();
let redis: PrivateRedis;
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: Runtime;
let workers: StartedWorkers;
const prefix = `t-loss-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  if (skip) return;
  redis = await PrivateRedis.start();
  dbHandle = await openTestDb();
  // The simulated provider keeps its state on the shared test Redis: flushing the queue's
  // Redis must not make it forget its sandboxes.
  const processEnv = {
    ...process.env,
    REDIS_URL: redis.url,
    SANDBOXER_STUB_REDIS_URL: redisUrl(),
    SANDBOXER_STUB_LATENCY_MS: "0",
    E2B_API_KEY: "",
    MODAL_TOKEN_ID: "",
    MODAL_TOKEN_SECRET: "",
    // fin-hub configured (nothing listens there), so its export scheduler exists too.
    SANDBOXER_FIN_HUB_URL: "http://127.0.0.1:9/batches",
    SANDBOXER_FIN_HUB_SECRET: "redis-loss-test-secret-0123456789abcdef",
    SANDBOXER_FIN_HUB_INTERVAL_MS: "600000",
  };
  rt = await createRuntime({ env: loadEnv(processEnv), db: dbHandle, keyPrefix: prefix, logger: createLogger({ level: "silent" }), processEnv });
  workers = await startWorkers(rt, { concurrency: 5, sweepEveryMs: 300 });
});
afterAll(async () => {
  if (skip) return;
  await workers?.close(1_000);
  await rt?.close();
  await redis?.destroy();
  await dbHandle?.drop();
  await deleteKeys(prefix);
});

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(25);
  }
}

describe.skipIf(skip)("queue Redis flushed", () => {
  it("restores the job schedulers, and the sweep tears down a sandbox whose TTL job was lost", async () => {
    const teamId = await seedTeam(rt, 10_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 5 }); // time to flush before the TTL job runs, even when slow
    const ready = await until("ready", async () => {
      const [row] = await rt.db.select().from(sandboxes).where(eq(sandboxes.id, created.id));
      return row?.state === "ready" ? row : null;
    });

    const c = new Redis(redis.url);
    await c.flushall();
    c.disconnect();
    expect(await rt.queue.queue.getJobScheduler("sandbox.sweep")).toBeUndefined();

    await until("schedulers restored", async () => {
      const ids = ["sandbox.sweep", "reconcile.extension:ext.saas-stub", "billing.export"];
      return (await Promise.all(ids.map((id) => rt.queue.queue.getJobScheduler(id)))).every(Boolean);
    }, 5_000);
    const done = await until("destroyed", async () => {
      const [row] = await rt.db.select().from(sandboxes).where(eq(sandboxes.id, created.id));
      return row?.state === "destroyed" ? row : null;
    });
    expect(done.endedAt?.getTime()).toBe(ready.expiresAt!.getTime());
    const events = await rt.db.select().from(sandboxEvents).where(eq(sandboxEvents.sandboxId, created.id));
    const started = events.find((e) => e.toState === "destroying")!;
    expect(started.reason).toBe("TTL passed (found by sweep)");
    // Within a sweep interval of expiry, give or take a loaded machine.
    expect(started.at.getTime() - ready.expiresAt!.getTime()).toBeLessThan(300 + 4_000);
  });
});
