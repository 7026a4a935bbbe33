import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../adapters/saas-stub/stub-adapter";
import { sandboxes, usageRecords, creditLedger } from "../db/schema";
import { createSandbox, destroySandbox } from "../server/services/sandboxes";
import { RetryLaterError } from "../server/services/lifecycle";
import { createTestRuntime, openTestDb, seedTeam, type TestRuntime } from "../server/testing/harness";
import { metricsText } from "../server/metrics";
import { backoffDelay, startWorkers, type StartedWorkers } from "./worker";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let workers: StartedWorkers;

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
  workers = await startWorkers(rt, { concurrency: 10, sweepEveryMs: 60_000 });
});
afterAll(async () => {
  await workers.close();
  await rt.cleanup();
  await dbHandle.drop();
});

const row = async (id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const inState = (id: string, ...states: string[]) => waitFor(`${id} in ${states.join("/")}`, async () => {
  const r = await row(id);
  return states.includes(r.state) ? r : null;
});

describe("lifecycle through BullMQ", () => {
  it("provisions, then tears down at the TTL through the delayed job", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 1 });
    const ready = await inState(created.id, "ready");
    const done = await inState(created.id, "destroyed");
    expect(done.endedAt!.getTime()).toBe(ready.expiresAt!.getTime());
    const usage = await rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, created.id));
    expect(usage).toHaveLength(1);
    expect(usage[0]!.durationMs).toBe(1000);
    expect(usage[0]!.costMicros).toBe(26n);

    const { body } = await metricsText(rt);
    expect(body).toMatch(/sandboxer_sandboxes\{state="destroyed",extension="ext.saas-stub"\} [1-9]/);
    expect(body).toMatch(/sandboxer_ttl_lateness_seconds_count [1-9]/);
    expect(body).toMatch(/sandboxer_queue_jobs\{state="delayed"\} \d+/);
  });

  it("retries a throttled teardown no sooner than Retry-After", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 300 });
    await inState(created.id, "ready");
    await stubControl(rt.redis, rt.keyPrefix).inject("teardown", { kind: "rate_limited", status: 429, retryAfterMs: 1500 });
    const asked = Date.now();
    await destroySandbox(rt, { teamId, userId: null }, created.id);
    await inState(created.id, "destroyed");
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1500);
  });

  it("settles once when the same teardown is enqueued under several job ids", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 300 });
    await inState(created.id, "ready");
    await rt.db.update(sandboxes).set({ destroyRequestedAt: new Date() }).where(eq(sandboxes.id, created.id));
    await Promise.all([
      rt.queue.enqueueTeardown(created.id, "requested"),
      rt.queue.enqueueTeardown(created.id, "sweep"),
      rt.queue.enqueueTeardown(created.id, "ttl", new Date()),
      rt.queue.enqueueTeardown(created.id, "requested"),
    ]);
    await inState(created.id, "destroyed");
    await new Promise((r) => setTimeout(r, 300));
    const debits = (await rt.db.select().from(creditLedger).where(eq(creditLedger.sandboxId, created.id))).filter((l) => l.kind === "debit");
    expect(debits).toHaveLength(1);
    expect(await rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, created.id))).toHaveLength(1);
  });

  it("keeps one entry per schedule however often workers restart", async () => {
    for (let i = 0; i < 3; i++) {
      const again = await startWorkers(rt, { concurrency: 1, sweepEveryMs: 60_000 });
      await again.close();
    }
    const schedulers = await rt.queue.queue.getJobSchedulers();
    const expected = ["sandbox.sweep", ...[...rt.adapters.keys()].map((id) => `reconcile.extension:${id}`)];
    expect(schedulers.map((s) => s.key ?? s.id).sort()).toEqual(expected.sort());
  });
});

describe("backoffDelay", () => {
  it("grows exponentially, caps, and never undercuts Retry-After", () => {
    expect(backoffDelay(1, new Error("x"), undefined)).toBe(1000);
    expect(backoffDelay(3, new Error("x"), undefined)).toBe(4000);
    expect(backoffDelay(20, new Error("x"), undefined)).toBe(60_000);
    expect(backoffDelay(1, new RetryLaterError("x", 9_000), undefined)).toBe(9_000);
  });
});
