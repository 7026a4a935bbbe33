import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../adapters/saas-stub/stub-adapter";
import { sandboxes } from "../db/schema";
import { jobIds } from "./catalog";
import { loadEnv } from "../server/env";
import { createRuntime } from "../server/runtime";
import { createSandbox } from "../server/services/sandboxes";
import {
  createTestRuntime,
  openTestDb,
  seedTeam,
  type TestRuntime,
} from "../server/testing/harness";
import { startWorkers } from "./worker";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle, { processEnv: { SANDBOXER_STUB_READY_DELAY_MS: "1500" } });
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

async function until<T>(
  what: string,
  fn: () => Promise<T | null | false | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("worker shutdown", () => {
  it("hands a job still running after the grace period back to the queue; the next worker finishes it once", async () => {
    const teamId = await seedTeam(rt, 10_000_000n);
    const first = await startWorkers(rt, { concurrency: 2, sweepEveryMs: 600_000 });
    const created = await createSandbox(
      rt,
      { teamId, userId: null },
      { profile: "burst-sandbox", ttlSeconds: 600 },
    );
    await until(
      "provider create",
      async () =>
        (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, created.id)))[0]
          ?.providerSandboxId,
    );

    await first.close(100);
    const job = await rt.queue.queue.getJob(jobIds.provision(created.id));
    expect(await job?.getState()).toBe("waiting");

    const second = await startWorkers(rt, { concurrency: 2, sweepEveryMs: 600_000 });
    try {
      const ready = await until("ready", async () => {
        const [row] = await rt.db.select().from(sandboxes).where(eq(sandboxes.id, created.id));
        return row?.state === "ready" ? row : null;
      });
      expect(await stubControl(rt.redis, rt.keyPrefix).createCount()).toBe(1);
      expect(ready.providerSandboxId).toBeTruthy();
      // The handed-back job is finished by the second worker, not left active.
      await until("provision job finished", async () => {
        const after = await rt.queue.queue.getJob(jobIds.provision(created.id));
        return !after || (await after.getState()) !== "active";
      });
    } finally {
      await second.close();
    }
  });
});

describe("redis eviction policy", () => {
  let redis: ChildProcess | null = null;
  afterAll(() => {
    redis?.kill("SIGKILL");
  });

  it("refuses to start on a Redis that may evict keys, saying how to fix it", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    redis = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "allkeys-lru",
      ],
      { stdio: "ignore" },
    );
    const url = `redis://127.0.0.1:${port}`;
    await until(
      "redis up",
      () =>
        new Promise<boolean>((resolve) => {
          const c = net.connect(port, "127.0.0.1", () => {
            c.destroy();
            resolve(true);
          });
          c.on("error", () => resolve(false));
        }),
    );
    const env = loadEnv({ ...process.env, REDIS_URL: url });
    await expect(createRuntime({ env, db: dbHandle })).rejects.toThrow(
      /maxmemory-policy is "allkeys-lru"; Sandboxer needs "noeviction".*redis-cli CONFIG SET maxmemory-policy noeviction/,
    );
  });
});
