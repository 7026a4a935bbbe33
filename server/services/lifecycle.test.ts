import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../../adapters/saas-stub/stub-adapter";
import { creditLedger, sandboxes, usageRecords } from "../../db/schema";
import { AppError } from "../errors";
import { openTestDb, seedTeam, TestClock, createTestRuntime, type TestRuntime } from "../testing/harness";
import { getBalance } from "./credits";
import { extendSandbox } from "./extend";
import { provisionSandbox, settleSandbox, sweep, teardownSandbox } from "./lifecycle";
import { createSandbox, destroySandbox, getSandbox } from "./sandboxes";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let clock: TestClock;
const first = { attempt: 1, isLastAttempt: false };
const last = { attempt: 3, isLastAttempt: true };

beforeAll(async () => {
  dbHandle = await openTestDb();
  clock = new TestClock();
  rt = await createTestRuntime(dbHandle, { clock });
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

const stub = () => stubControl(rt.redis, rt.keyPrefix);
const row = async (id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
const ledgerOf = (teamId: string) => rt.db.select().from(creditLedger).where(eq(creditLedger.teamId, teamId));
const usageOf = (teamId: string) => rt.db.select().from(usageRecords).where(eq(usageRecords.teamId, teamId));

async function readySandbox(teamId: string, ttlSeconds = 60) {
  const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds });
  await provisionSandbox(rt, created.id, first);
  return row(created.id);
}

describe("admission", () => {
  it("admits exactly two of five concurrent creates when credits cover two", async () => {
    // burst-sandbox on the stub: 2 vCPU × 12 µ$ + 0.5 GiB × 4 µ$ = 26 µ$/s; 100 s → 2600 µ$
    const teamId = await seedTeam(rt, 2n * 2600n + 100n);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 100 })),
    );
    const admitted = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(admitted).toHaveLength(2);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "INSUFFICIENT_CREDITS" });
    const balance = await getBalance(rt.db, teamId);
    expect(balance.heldMicros).toBe(5200n);
    expect(balance.availableMicros).toBe(100n);
  });

  it.each([
    [0, /positive whole number/],
    [-5, /positive whole number/],
    [3601, /above profile.burst-sandbox's maximum of 3600s/],
    [1.5, /positive whole number/],
  ])("rejects TTL %s with no provider call, no hold and no row", async (ttlSeconds, message) => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const createsBefore = await stub().createCount();
    const err = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "INVALID_INPUT", details: { field: "ttlSeconds" } });
    expect(err.message).toMatch(message);
    expect(await stub().createCount()).toBe(createsBefore);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(0n);
    expect(await rt.db.select().from(sandboxes).where(eq(sandboxes.teamId, teamId))).toHaveLength(0);
  });

  it("names the profiles it knows when asked for an unknown one", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    await expect(createSandbox(rt, { teamId, userId: null }, { profile: "nope" })).rejects.toThrow(/unknown profile "nope" \(known: .*profile.burst-sandbox/);
  });
});

describe("provisioning", () => {
  it("routes burst-sandbox to the stub and records why E2B and Modal were skipped", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId);
    expect(ready.state).toBe("ready");
    expect(ready.extensionId).toBe("ext.saas-stub");
    expect(ready.providerSandboxId).toMatch(/^stub-/);
    expect(ready.expiresAt!.getTime()).toBe(ready.startedAt!.getTime() + 60_000);
    const reasons = Object.fromEntries(ready.routing!.candidates.map((c) => [c.extensionId, `${c.outcome}: ${c.reason}`]));
    expect(reasons["ext.e2b"]).toMatch(/^skipped: credentials not available: credential api_key: env:E2B_API_KEY is not set/);
    expect(reasons["ext.modal"]).toMatch(/^skipped: credentials not available: credential token_id: env:MODAL_TOKEN_ID is not set/);
    expect(reasons["ext.saas-stub"]).toMatch(/^chosen/);
    const detail = await getSandbox(rt, teamId, ready.id);
    expect(detail.events.map((e) => e.toState).filter(Boolean)).toEqual(["requested", "provisioning", "ready"]);
  });

  it("adopts the provider sandbox when the create reply was lost", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    const before = await stub().createCount();
    // The provider created the sandbox, then the reply was lost: the attempt finds it by tag.
    await stub().inject("provision", { kind: "timeout", afterEffect: true });
    await provisionSandbox(rt, created.id, first);
    const ready = await row(created.id);
    expect(ready.state).toBe("ready");
    expect(await stub().createCount()).toBe(before + 1);
    const onProvider = await rt.adapters.get("ext.saas-stub")!.list({ logger: rt.logger, clock: rt.clock, credentials: {} }, { sandboxId: created.id });
    expect(onProvider.map((s) => s.providerSandboxId)).toEqual([ready.providerSandboxId]);
  });

  it("adopts after a crash between the provider create and saving its id", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    // Simulate the dead attempt: routing recorded, provider created, id never saved.
    await rt.db.update(sandboxes).set({ state: "provisioning", extensionId: "ext.saas-stub" }).where(eq(sandboxes.id, created.id));
    const adapter = rt.adapters.get("ext.saas-stub")!;
    const ctx = { logger: rt.logger, clock: rt.clock, credentials: {} };
    const orphan = await adapter.provision(ctx, { sandboxId: created.id, teamId, spec: { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null }, timeoutSeconds: 120 });
    const before = await stub().createCount();
    await provisionSandbox(rt, created.id, { attempt: 2, isLastAttempt: false });
    expect((await row(created.id)).providerSandboxId).toBe(orphan.providerSandboxId);
    expect(await stub().createCount()).toBe(before);
  });

  it("fails after the last attempt, releases the hold once and bills nothing", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    await stub().inject("provision", { kind: "unavailable", status: 503, message: "capacity" });
    await provisionSandbox(rt, created.id, last);
    const failed = await row(created.id);
    expect(failed.state).toBe("failed");
    expect(failed.failureReason).toMatch(/ext.saas-stub: create failed: unavailable: capacity/);
    // A duplicate of the final failure changes nothing.
    await provisionSandbox(rt, created.id, last);
    const balance = await getBalance(rt.db, teamId);
    expect(balance).toEqual({ balanceMicros: 1_000_000n, heldMicros: 0n, availableMicros: 1_000_000n });
    const releases = (await ledgerOf(teamId)).filter((l) => l.kind === "hold_release");
    expect(releases).toHaveLength(1);
    expect(await usageOf(teamId)).toHaveLength(0);
  });

  // Found by the chaos suite: a destroy that came while a create's reply was lost failed the
  // request without looking for the provider sandbox, which ran unbilled until the reconciler.
  it("tears down a sandbox whose create reply was lost when the request is cancelled before the retry", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    // The reply is lost and the lookup by tag fails too: the attempt ends without knowing.
    await stub().inject("provision", { kind: "timeout", afterEffect: true });
    await stub().inject("list", { kind: "unavailable", status: 503 });
    await expect(provisionSandbox(rt, created.id, first)).rejects.toMatchObject({ name: "RetryLaterError" });
    await destroySandbox(rt, { teamId, userId: null }, created.id);
    await provisionSandbox(rt, created.id, { attempt: 2, isLastAttempt: false });
    const cancelled = await row(created.id);
    expect(cancelled.state).toBe("failed");
    expect(cancelled.failureReason).toMatch(/^cancelled/);
    const ctx = { logger: rt.logger, clock: rt.clock, credentials: {} };
    const onProvider = await rt.adapters.get("ext.saas-stub")!.list(ctx, { sandboxId: created.id });
    expect(onProvider).toHaveLength(1);
    expect(onProvider.every((s) => s.state === "ended")).toBe(true);
  });

  it("retries a retryable create failure before the last attempt", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    await stub().inject("provision", { kind: "rate_limited", status: 429, retryAfterMs: 1500 });
    await expect(provisionSandbox(rt, created.id, first)).rejects.toMatchObject({ name: "RetryLaterError", retryAfterMs: 1500 });
    await provisionSandbox(rt, created.id, { attempt: 2, isLastAttempt: false });
    expect((await row(created.id)).state).toBe("ready");
  });
});

describe("teardown and metering", () => {
  it("debits once when destroy races the TTL teardown and a duplicated job", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    clock.advance(60_000);
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await Promise.all([
      teardownSandbox(rt, ready.id, "ttl"),
      teardownSandbox(rt, ready.id, "requested"),
      teardownSandbox(rt, ready.id, "ttl"),
      teardownSandbox(rt, ready.id, "sweep"),
    ]);
    const usage = await usageOf(teamId);
    const debits = (await ledgerOf(teamId)).filter((l) => l.kind === "debit");
    expect(usage).toHaveLength(1);
    expect(debits).toHaveLength(1);
    expect(debits[0]!.amountMicros).toBe(usage[0]!.costMicros);
    expect(usage[0]!.costMicros).toBe(26n * 60n);
    const balance = await getBalance(rt.db, teamId);
    expect(balance).toEqual({ balanceMicros: 1_000_000n - 1560n, heldMicros: 0n, availableMicros: 1_000_000n - 1560n });
    expect((await row(ready.id)).state).toBe("destroyed");
  });

  it("treats provider not-found as gone and bills only up to when it was last seen running", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 600);
    clock.advance(10_000);
    await rt.db.update(sandboxes).set({ lastSeenAt: clock.now() }).where(eq(sandboxes.id, ready.id));
    clock.advance(50_000);
    await stub().inject("teardown", { kind: "not_found", status: 404 });
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await teardownSandbox(rt, ready.id, "requested");
    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.costMicros).toBe(260n);
  });

  it("records a sandbox the provider ended early as lost, billed to when it ended", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 600);
    await stub().endEarly(ready.providerSandboxId!, new Date(ready.startedAt!.getTime() + 30_000));
    clock.advance(600_000);
    await teardownSandbox(rt, ready.id, "ttl");
    const done = await row(ready.id);
    expect(done.state).toBe("lost");
    expect(done.costMicros).toBe(26n * 30n);
  });

  it("records as lost a sandbox the provider had already ended when a destroy was asked for", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 600);
    await stub().endEarly(ready.providerSandboxId!, new Date(ready.startedAt!.getTime() + 30_000));
    clock.advance(60_000);
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await teardownSandbox(rt, ready.id, "requested");
    const done = await row(ready.id);
    expect(done.state).toBe("lost");
    expect(done.costMicros).toBe(26n * 30n);
  });

  it("stops on an auth error, flags the sandbox and leaves the ledger open", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    clock.advance(60_000);
    await stub().inject("teardown", { kind: "auth", status: 401, message: "invalid api key" });
    await expect(teardownSandbox(rt, ready.id, "ttl")).rejects.toMatchObject({ name: "PermanentJobError" });
    const flagged = await row(ready.id);
    expect(flagged.state).toBe("destroying");
    expect(flagged.attentionReason).toMatch(/teardown stopped: auth: invalid api key/);
    expect(await usageOf(teamId)).toHaveLength(0);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(flagged.holdMicros);
    // The sweep leaves flagged sandboxes to a person.
    const swept = await sweep(rt);
    expect(swept.teardownIds).not.toContain(ready.id);
  });

  // A teardown that fails with anything but not-found did not show the sandbox gone. A team
  // could make its key fail at the TTL, let the provider forget the sandbox at its own timeout,
  // and then be billed only to the last sighting: now a later "already gone" bills at least to
  // the failed attempt, capped at the expiry as always.
  it("bills at least to a teardown attempt that stopped on auth, capped at the expiry", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    clock.advance(80_000); // the TTL teardown runs 20 s late
    await stub().inject("teardown", { kind: "auth", status: 401, message: "invalid api key" });
    await expect(teardownSandbox(rt, ready.id, "ttl")).rejects.toMatchObject({ name: "PermanentJobError" });
    clock.advance(100_000);
    await stub().inject("teardown", { kind: "not_found", status: 404 });
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await teardownSandbox(rt, ready.id, "requested");
    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.endedAt).toEqual(done.expiresAt);
    expect(done.costMicros).toBe(26n * 60n); // not 0 s (ready = last sighting), not 80 s (above the hold)
  });

  it("bills at least to a teardown attempt that failed and was retried, when the retry finds it gone", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 600);
    clock.advance(30_000);
    await destroySandbox(rt, { teamId, userId: null }, ready.id);
    await stub().inject("teardown", { kind: "unavailable", status: 503 });
    await expect(teardownSandbox(rt, ready.id, "requested")).rejects.toMatchObject({ name: "RetryLaterError" });
    clock.advance(20_000);
    await stub().inject("teardown", { kind: "not_found", status: 404 });
    await teardownSandbox(rt, ready.id, "requested");
    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.costMicros).toBe(26n * 30n); // to the failed attempt at +30 s; nothing showed it running after
  });

  it("asks for a retry no sooner than Retry-After on 429 and 5xx", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    clock.advance(60_000);
    await stub().inject("teardown", { kind: "rate_limited", status: 429, retryAfterMs: 7000 }, { kind: "unavailable", status: 503 });
    await expect(teardownSandbox(rt, ready.id, "ttl")).rejects.toMatchObject({ name: "RetryLaterError", retryAfterMs: 7000 });
    await expect(teardownSandbox(rt, ready.id, "ttl")).rejects.toMatchObject({ name: "RetryLaterError" });
    expect((await row(ready.id)).state).toBe("destroying");
    expect(await usageOf(teamId)).toHaveLength(0);
    await teardownSandbox(rt, ready.id, "ttl");
    expect((await row(ready.id)).state).toBe("destroyed");
  });

  it("sums tiny rates exactly over 1 s, 999 s and 3,599,999 ms", async () => {
    const teamId = await seedTeam(rt, 10_000_000n);
    const durations = [1_000, 999_000, 3_599_999];
    for (const ms of durations) {
      const ready = await readySandbox(teamId, 3600);
      clock.set(new Date(ready.startedAt!.getTime() + ms));
      await settleSandbox(rt, ready.id, { outcome: "terminated", providerEndedAt: null, reason: "test" });
    }
    const usage = await usageOf(teamId);
    // 26 µ$/s: 26, 25974, 93599.974 → 93600
    expect(usage.map((u) => u.costMicros).sort((a, b) => Number(a - b))).toEqual([26n, 25974n, 93600n]);
    const usageSum = usage.reduce((s, u) => s + u.costMicros, 0n);
    const debitSum = (await ledgerOf(teamId)).filter((l) => l.kind === "debit").reduce((s, l) => s + l.amountMicros, 0n);
    expect(debitSum).toBe(usageSum);
    expect((await getBalance(rt.db, teamId)).balanceMicros).toBe(10_000_000n - usageSum);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(0n);
  });
});

describe("extend", () => {
  it("grows the hold, moves the expiry and is refused above the maximum", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    const extended = await extendSandbox(rt, { teamId, userId: null }, ready.id, 120);
    expect(extended.ttlSeconds).toBe(180);
    expect(extended.holdMicros).toBe(String(26n * 180n));
    expect(extended.estimateMicros).toBe(String(26n * 180n)); // the estimate is for the new TTL
    expect(new Date(extended.expiresAt!).getTime()).toBe(ready.startedAt!.getTime() + 180_000);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(26n * 180n);
    await expect(extendSandbox(rt, { teamId, userId: null }, ready.id, 3600)).rejects.toThrow(/above the maximum of 3600s/);
    // The timeline says times the way the console shows them (UTC, to the second), not as ISO strings.
    const reasons = (await getSandbox(rt, teamId, ready.id)).events.map((e) => e.reason ?? "");
    const at = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    expect(reasons).toContain(`ready on ext.saas-stub; expires at ${at(ready.startedAt!.getTime() + 60_000)}`);
    expect(reasons).toContainEqual(expect.stringContaining(`TTL extended to 3m 00s (expires ${at(ready.startedAt!.getTime() + 180_000)})`));
    expect(reasons.join("\n")).not.toMatch(/\d{2}:\d{2}:\d{2}\.\d{3}Z/);
  });

  it("is refused when credits are short, changing nothing", async () => {
    const teamId = await seedTeam(rt, 26n * 60n);
    const ready = await readySandbox(teamId, 60);
    await expect(extendSandbox(rt, { teamId, userId: null }, ready.id, 60)).rejects.toMatchObject({ code: "INSUFFICIENT_CREDITS" });
    expect((await row(ready.id)).ttlSeconds).toBe(60);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(26n * 60n);
  });

  it("applies exactly one of several concurrent extends and tells the others to retry", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => extendSandbox(rt, { teamId, userId: null }, ready.id, 60)));
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected")) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT" });
    const after = await row(ready.id);
    expect(after.ttlSeconds).toBe(120);
    expect(after.holdMicros).toBe(26n * 120n);
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(26n * 120n);
    const grows = (await ledgerOf(teamId)).filter((l) => l.kind === "hold_grow");
    expect(grows.map((g) => g.amountMicros)).toEqual([26n * 60n]);
  });

  it("a TTL job scheduled before an extend does nothing", async () => {
    const teamId = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(teamId, 60);
    await extendSandbox(rt, { teamId, userId: null }, ready.id, 60);
    clock.advance(61_000);
    await teardownSandbox(rt, ready.id, "ttl");
    expect((await row(ready.id)).state).toBe("ready");
  });
});

describe("isolation", () => {
  it("another team's sandbox is not found", async () => {
    const a = await seedTeam(rt, 1_000_000n);
    const b = await seedTeam(rt, 1_000_000n);
    const ready = await readySandbox(a, 60);
    await expect(getSandbox(rt, b, ready.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(destroySandbox(rt, { teamId: b, userId: null }, ready.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(extendSandbox(rt, { teamId: b, userId: null }, ready.id, 10)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
