import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { creditLedger, sandboxes, usageRecords } from "../../db/schema";
import { getBalance } from "../../server/services/credits";
import { extendSandbox } from "../../server/services/extend";
import { provisionSandbox, sweep, teardownSandbox } from "../../server/services/lifecycle";
import { reconcileExtension } from "../../server/services/reconcile";
import { createSandbox, destroySandbox } from "../../server/services/sandboxes";
import { createTestRuntime, openTestDb, seedTeam, TestClock, type TestRuntime } from "../../server/testing/harness";
import { MODAL_TAGS } from "./modal-adapter";
import { createModalFake } from "./fake/server";
import { GenericStatus } from "./fake/wire";

/**
 * Sandboxer's lifecycle (real DB, real Redis) with ext.modal on the official SDK against the
 * local gRPC fake. The fake shares the test clock, so Modal's own timeout and early ends happen
 * when the test moves time.
 */
const TOKENS = { MODAL_TOKEN_ID: "ak-lifecycle0001", MODAL_TOKEN_SECRET: "as-lifecycle-secret-0001" };
const clock = new TestClock();
const fake = createModalFake({ clock, tokens: { [TOKENS.MODAL_TOKEN_ID]: TOKENS.MODAL_TOKEN_SECRET } });

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
const runtimes: TestRuntime[] = [];
const first = { attempt: 1, isLastAttempt: false };

/** A runtime whose worker env has Modal's tokens and the fake's URL, and no E2B key. */
async function modalRuntime(opts: { readyTimeoutMs?: number } = {}) {
  const url = await fakeUrl;
  const r = await createTestRuntime(dbHandle, {
    clock,
    readyTimeoutMs: opts.readyTimeoutMs ?? 5_000,
    processEnv: { ...TOKENS, SANDBOXER_MODAL_SERVER_URL: url, E2B_API_KEY: undefined },
  });
  runtimes.push(r);
  return r;
}
const fakeUrl = fake.listen();

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await modalRuntime();
});
afterAll(async () => {
  for (const r of runtimes) await r.cleanup();
  await dbHandle.drop();
  await fake.close();
});
beforeEach(() => {
  fake.clearFaults();
  clock.advance(5_000); // a fresh create-rate window (5/s on ext.modal) for each test
});

const row = async (id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
const usageOf = (sandboxId: string) => rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, sandboxId));
const ledgerOf = (teamId: string) => rt.db.select().from(creditLedger).where(eq(creditLedger.teamId, teamId));

async function readyOnModal(r: TestRuntime, teamId: string, profile: string, ttlSeconds: number) {
  const created = await createSandbox(r, { teamId, userId: null }, { profile, ttlSeconds });
  await provisionSandbox(r, created.id, first);
  const ready = await row(created.id);
  expect(ready).toMatchObject({ state: "ready", extensionId: "ext.modal" });
  return ready;
}

describe("routing to Modal", () => {
  it("lands profile.burst-sandbox on Modal when E2B's key is missing and Modal's tokens are present, recording why", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readyOnModal(rt, teamId, "burst-sandbox", 60);
    expect(ready.providerSandboxId).toMatch(/^sb-[A-Za-z0-9]{22}$/);
    const reasons = Object.fromEntries(ready.routing!.candidates.map((c) => [c.extensionId, `${c.outcome}: ${c.reason}`]));
    expect(reasons["ext.e2b"]).toMatch(/^skipped: credentials not available: credential api_key: env:E2B_API_KEY is not set/);
    expect(reasons["ext.modal"]).toMatch(/^chosen/);
    expect(reasons["ext.saas-stub"]).toMatch(/^skipped: not needed/);
    // The Modal sandbox carries our id and team.
    expect(fake.sandbox(ready.providerSandboxId!)!.tags).toMatchObject({ [MODAL_TAGS.sandboxId]: ready.id, [MODAL_TAGS.teamId]: teamId });
    // The provider timeout is the TTL plus the lifecycle's grace, so our teardown comes first.
    expect(fake.sandbox(ready.providerSandboxId!)!.timeoutSecs).toBe(120);
    // The profile's E2B-style template "base" runs as the image the manifest maps it to.
    expect(fake.sandbox(ready.providerSandboxId!)!.image).toBe("FROM python:3.12-slim");
  });
});

describe("a GPU sandbox on Modal", () => {
  it("holds the estimate, and bills the metered cost at the manifest's GPU rate when destroyed", async () => {
    const teamId = await seedTeam(rt, 10_000_000n);
    const ready = await readyOnModal(rt, teamId, "modal-gpu", 600);
    // 8 vCPU × 6.55 + 32 GiB × 2.22 + 1 A100-80GB × 694 = 817.44 µ$/s; 600 s → 490464 µ$
    expect(ready.holdMicros).toBe(490_464n);
    expect(fake.sandbox(ready.providerSandboxId!)).toMatchObject({ gpuType: "A100-80GB", gpuCount: 1, milliCpu: 4000, memoryMb: 32768, state: "running" });

    clock.advance(100_000);
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await teardownSandbox(rt, ready.id, "requested");
    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.costMicros).toBe(81_744n); // 100 s × 817.44 µ$
    expect((await usageOf(ready.id))[0]).toMatchObject({ durationMs: 100_000, costMicros: 81_744n, extensionId: "ext.modal" });
    expect(await getBalance(rt.db, teamId)).toEqual({ balanceMicros: 10_000_000n - 81_744n, heldMicros: 0n, availableMicros: 10_000_000n - 81_744n });
    expect(fake.sandbox(ready.providerSandboxId!)!.result).toMatchObject({ status: GenericStatus.TERMINATED });
  });

  it("is refused an extend, with the reason, changing nothing", async () => {
    const teamId = await seedTeam(rt, 10_000_000n);
    const ready = await readyOnModal(rt, teamId, "modal-gpu", 600);
    const err = await extendSandbox(rt, { teamId, userId: null }, ready.id, 300).catch((e) => e);
    expect(err).toMatchObject({ code: "CANNOT_EXTEND", message: "ext.modal cannot extend a running sandbox; create a new one with a longer TTL" });
    const after = await row(ready.id);
    expect([after.ttlSeconds, after.holdMicros, after.expiresAt]).toEqual([600, ready.holdMicros, ready.expiresAt]);
    expect(fake.sandbox(ready.providerSandboxId!)!.timeoutSecs).toBe(660);
  });
});

describe("a Modal sandbox that ended on Modal's side", () => {
  // burst-sandbox on Modal: 2 vCPU × 6.55 + 0.5 GiB × 2.22 = 14.21 µ$/s
  it("ended at Modal's own timeout: recorded as expired (destroyed), billed to its expiry, not left ready", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readyOnModal(rt, teamId, "burst-sandbox", 60);
    // Our TTL teardown ran late (workers down); Modal's timeout (TTL + 60 s) ended it first.
    clock.advance(300_000);
    expect(fake.sandbox(ready.providerSandboxId!)!.result).toMatchObject({ status: GenericStatus.TIMEOUT });
    await teardownSandbox(rt, ready.id, "ttl");
    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.endedAt).toEqual(ready.expiresAt);
    expect(done.costMicros).toBe(853n); // 60 s × 14.21 µ$ = 852.6
    expect((await usageOf(ready.id))[0]!.endReason).toBe("TTL reached");
  });

  it("ended at Modal's own timeout: the reconciler leaves it to the teardown, which records it expired", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readyOnModal(rt, teamId, "burst-sandbox", 60);
    clock.advance(300_000); // past Modal's timeout: gone from Modal's list of running sandboxes
    expect((await reconcileExtension(rt, "ext.modal")).lost).toBe(0);
    expect((await row(ready.id)).state).toBe("ready");
    await teardownSandbox(rt, ready.id, "ttl");
    expect(await row(ready.id)).toMatchObject({ state: "destroyed", endedAt: ready.expiresAt, costMicros: 853n });
  });

  it("ended early: recorded as lost, billed to when it ended", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readyOnModal(rt, teamId, "burst-sandbox", 600);
    fake.endSandbox(ready.providerSandboxId!, { atMs: ready.startedAt!.getTime() + 30_000, status: GenericStatus.FAILURE, exitcode: 1 });
    clock.set(ready.expiresAt!);
    await teardownSandbox(rt, ready.id, "ttl");
    const done = await row(ready.id);
    expect(done.state).toBe("lost");
    expect(done.endedAt!.getTime()).toBe(ready.startedAt!.getTime() + 30_000);
    expect(done.costMicros).toBe(426n); // 30 s × 14.21 µ$ = 426.3
  });
});

describe("Modal trouble while provisioning", () => {
  it("terminates a slow start before any retry creates another, never creates more than the attempts, nothing after the last", async () => {
    const slow = await modalRuntime({ readyTimeoutMs: 500 });
    const teamId = await seedTeam(slow, 10_000_000n);
    const created = await createSandbox(slow, { teamId, userId: null }, { profile: "modal-gpu", ttlSeconds: 600 });
    const mine = { tags: { [MODAL_TAGS.sandboxId]: created.id } };
    fake.inject({ kind: "slow_start", readyAfterMs: 3_600_000 }); // ready long after the 500 ms readiness timeout

    await expect(provisionSandbox(slow, created.id, { attempt: 1, isLastAttempt: false })).rejects.toMatchObject({ name: "RetryLaterError" });
    expect(fake.createCount(mine)).toBe(1);
    expect((await row(created.id)).providerSandboxId).toBeNull();
    await expect(provisionSandbox(slow, created.id, { attempt: 2, isLastAttempt: false })).rejects.toMatchObject({ name: "RetryLaterError" });
    await provisionSandbox(slow, created.id, { attempt: 3, isLastAttempt: true });
    // A duplicate delivery of the last attempt, and the sweep, create nothing more.
    await provisionSandbox(slow, created.id, { attempt: 3, isLastAttempt: true });
    await sweep(slow, { requestedStaleMs: 0 });

    const history = fake.history(mine);
    expect(history.map((h) => h.op)).toEqual(["create", "terminate", "create", "terminate", "create", "terminate"]);
    expect(new Set(history.map((h) => h.sandboxId)).size).toBe(3);
    expect(fake.createCount(mine)).toBe(3);
    expect(fake.sandboxes(mine).every((s) => s.state === "finished")).toBe(true);

    const failed = await row(created.id);
    expect(failed.state).toBe("failed");
    expect(failed.failureReason).toMatch(/timeout: modal: sandbox sb-\w+ not scheduled within 500 ms/);
    expect((await ledgerOf(teamId)).filter((l) => l.kind === "hold_release")).toHaveLength(1);
    expect(await usageOf(created.id)).toHaveLength(0);
    expect(await getBalance(slow.db, teamId)).toEqual({ balanceMicros: 10_000_000n, heldMicros: 0n, availableMicros: 10_000_000n });
  });

  it("fails a GPU create with no capacity after the last attempt, releasing the hold and creating nothing", async () => {
    const r = await modalRuntime();
    const teamId = await seedTeam(r, 10_000_000n);
    const created = await createSandbox(r, { teamId, userId: null }, { profile: "modal-gpu", ttlSeconds: 600 });
    fake.inject({ kind: "gpu_capacity", gpuTypes: ["A100-80GB"] });
    await expect(provisionSandbox(r, created.id, first)).rejects.toMatchObject({ name: "RetryLaterError", message: expect.stringMatching(/capacity: modal create: RESOURCE_EXHAUSTED/) });
    clock.advance(5_000);
    await provisionSandbox(r, created.id, { attempt: 3, isLastAttempt: true });
    const failed = await row(created.id);
    expect(failed.state).toBe("failed");
    expect(failed.failureReason).toMatch(/ext.modal: create failed: capacity: modal create: RESOURCE_EXHAUSTED: No capacity for A100-80GB/);
    expect(fake.createCount({ tags: { [MODAL_TAGS.sandboxId]: created.id } })).toBe(0);
    expect(await getBalance(r.db, teamId)).toEqual({ balanceMicros: 10_000_000n, heldMicros: 0n, availableMicros: 10_000_000n });
  });

  it("skips Modal with the reason when its tokens are missing", async () => {
    const r = await createTestRuntime(dbHandle, { clock, processEnv: { MODAL_TOKEN_ID: undefined, MODAL_TOKEN_SECRET: undefined, E2B_API_KEY: undefined } });
    runtimes.push(r);
    const teamId = await seedTeam(r, 1_000_000n);
    const err = await createSandbox(r, { teamId, userId: null }, { profile: "modal-gpu", ttlSeconds: 600 }).catch((e) => e);
    expect(err.message).toMatch(/ext.modal: credentials not available: credential token_id: env:MODAL_TOKEN_ID is not set/);
  });
});
