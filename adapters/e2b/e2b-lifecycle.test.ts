/**
 * ext.e2b through the whole lifecycle: real DB (harness), real Redis, the real E2B SDK, against
 * the local E2B fake. Each fault ends in the right sandbox state with the right ledger effect.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { creditLedger, sandboxEvents, sandboxes, usageRecords } from "../../db/schema";
import { costMicros, parseRatePico } from "../../server/money";
import { bindCredential } from "../../server/services/credentials";
import { getBalance } from "../../server/services/credits";
import { extendSandbox } from "../../server/services/extend";
import { provisionSandbox, teardownSandbox, type AttemptInfo } from "../../server/services/lifecycle";
import { reconcileExtension } from "../../server/services/reconcile";
import { createSandbox, destroySandbox, getSandbox } from "../../server/services/sandboxes";
import { createTestRuntime, openTestDb, seedTeam, TestClock, type TestRuntime } from "../../server/testing/harness";
import { SANDBOX_ID_KEY } from "./e2b-adapter";
import { startE2bFake, type E2bFake } from "./fake/e2b-fake";

const KEY = "e2b_5a4db0c0ffee0123456789abcdef0123";
let db: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let noKey: TestRuntime;
let clock: TestClock;
let fake: E2bFake;

beforeAll(async () => {
  db = await openTestDb();
  clock = new TestClock();
  fake = await startE2bFake({ now: () => clock.now().getTime() });
  const e2bEnv = {
    E2B_API_KEY: KEY,
    SANDBOXER_E2B_API_URL: fake.url,
    // Long enough that a busy CI machine never times out an ordinary create, short enough for the
    // lost-reply tests below.
    SANDBOXER_E2B_CREATE_TIMEOUT_MS: "2000",
    SANDBOXER_E2B_READY_POLL_MS: "20",
    // Fault tests fail creates in a row on purpose; keep routing from cooling E2B down.
    SANDBOXER_COOLDOWN_FAILURES: "1000",
  };
  rt = await createTestRuntime(db, { clock, processEnv: e2bEnv });
  noKey = await createTestRuntime(db, { clock, processEnv: { ...e2bEnv, E2B_API_KEY: "", SANDBOXER_BYOK_SCHEMES: "openbao,file" } });
});
afterAll(async () => {
  await rt?.cleanup();
  await noKey?.cleanup();
  await fake?.close();
  await db?.drop();
});
beforeEach(() => fake.reset());

const E2B_RATES = { vcpuSecondPico: parseRatePico("0.000014"), gibSecondPico: parseRatePico("0.0000045"), gpuSecondPico: 0n };
/** 2 vCPU, 512 MiB on E2B's rates. */
const e2bCost = (ms: number) => costMicros(E2B_RATES, { vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0 }, ms);

const row = async (id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
const ledgerOf = (sandboxId: string) => rt.db.select().from(creditLedger).where(eq(creditLedger.sandboxId, sandboxId));
const usageOf = (sandboxId: string) => rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, sandboxId));
/** Every sandbox the provider ever made for this request (ended ones too). */
const onProvider = (sandboxId: string) => fake.sandboxesTagged(SANDBOX_ID_KEY, sandboxId);
const attempt = (n: number, of = 3): AttemptInfo => ({ attempt: n, isLastAttempt: n >= of });

/** One provision attempt, a second later than the last (per-second create limits count by clock). */
async function provision(r: TestRuntime, id: string, info: AttemptInfo) {
  clock.advance(1_000);
  return provisionSandbox(r, id, info);
}

async function request(profile: string, ttlSeconds: number, r: TestRuntime = rt, credits = 10_000_000n) {
  const teamId = await seedTeam(r, credits);
  const created = await createSandbox(r, { teamId, userId: null }, { profile, ttlSeconds });
  return { teamId, id: created.id, holdMicros: BigInt(created.holdMicros) };
}

async function expectNothingBilled(teamId: string, id: string) {
  expect(await usageOf(id)).toHaveLength(0);
  const entries = await ledgerOf(id);
  expect(entries.filter((l) => l.kind === "debit")).toHaveLength(0);
  expect(entries.filter((l) => l.kind === "hold_release")).toHaveLength(1);
  expect(await getBalance(rt.db, teamId)).toEqual({ balanceMicros: 10_000_000n, heldMicros: 0n, availableMicros: 10_000_000n });
}

describe("routing to E2B", () => {
  it("with a key, profile.burst-sandbox lands on E2B, tagged with our id and team", async () => {
    const { id, teamId } = await request("burst-sandbox", 300);
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    expect(ready).toMatchObject({ state: "ready", extensionId: "ext.e2b", credentialSource: "platform" });
    const decided = Object.fromEntries(ready.routing!.candidates.map((c) => [c.extensionId, c.outcome]));
    expect(decided).toEqual({ "ext.e2b": "chosen", "ext.modal": "skipped", "ext.saas-stub": "skipped" });
    const made = onProvider(id);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ sandboxID: ready.providerSandboxId, metadata: { sandboxer_team_id: teamId }, endReason: null });
    // The provider's own timeout is the TTL plus the grace, so Sandboxer's teardown comes first.
    expect(fake.creates()[0]!.timeout).toBe(360);
  });

  it("without a key, profile.burst-sandbox falls back and says why; profile.e2b-burst is refused up front", async () => {
    const { id } = await request("burst-sandbox", 300, noKey);
    await provision(noKey, id, attempt(1));
    const ready = (await noKey.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
    expect(ready.extensionId).toBe("ext.saas-stub");
    const e2b = ready.routing!.candidates.find((c) => c.extensionId === "ext.e2b")!;
    expect(e2b).toMatchObject({ outcome: "skipped", reason: "credentials not available: credential api_key: env:E2B_API_KEY is not set" });

    const teamId = await seedTeam(noKey, 10_000_000n);
    await expect(createSandbox(noKey, { teamId, userId: null }, { profile: "e2b-burst", ttlSeconds: 60 })).rejects.toMatchObject({
      code: "NO_ELIGIBLE_PROVIDER",
      message: expect.stringMatching(/ext.e2b: credentials not available: credential api_key: env:E2B_API_KEY is not set/),
    });
    expect((await getBalance(noKey.db, teamId)).heldMicros).toBe(0n);
    expect(fake.requests()).toHaveLength(0);
  });

  it("a team's own key (BYOK) puts profile.burst-sandbox on E2B without a platform key, and that key is used", async () => {
    const teamKey = "e2b_7ea770000000000000000000000000000000";
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "e2b-byok-")), "key");
    fs.writeFileSync(keyFile, `${teamKey}\n`, { mode: 0o600 });
    const teamId = await seedTeam(noKey, 10_000_000n);
    const check = await bindCredential(noKey, { teamId, userId: "user_e2b_test" }, { extensionId: "ext.e2b", field: "api_key", secretRef: `file:${keyFile}` });
    expect(check).toMatchObject({ resolves: true, source: "team" });
    const created = await createSandbox(noKey, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 300 });
    await provision(noKey, created.id, attempt(1));
    const ready = (await noKey.db.select().from(sandboxes).where(eq(sandboxes.id, created.id)))[0]!;
    expect(ready).toMatchObject({ state: "ready", extensionId: "ext.e2b", credentialSource: "team" });
    const fingerprint = (k: string) => `key_${createHash("sha256").update(k).digest("hex").slice(0, 12)}`;
    expect(onProvider(created.id).map((x) => x.owner)).toEqual([fingerprint(teamKey)]);
    await destroySandbox(noKey, { teamId, userId: null }, created.id);
    await teardownSandbox(noKey, created.id, "requested");
    expect(onProvider(created.id).map((x) => x.endReason)).toEqual(["killed"]);
    fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
  });

  it("a key E2B rejects (401) moves profile.burst-sandbox on to the next route entry", async () => {
    const { id } = await request("burst-sandbox", 300);
    fake.inject({ op: "create", status: 401 });
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    expect(ready.extensionId).toBe("ext.saas-stub");
    const e2b = ready.routing!.candidates.find((c) => c.extensionId === "ext.e2b")!;
    expect(e2b.outcome).toBe("failed");
    expect(e2b.reason).toMatch(/create failed: auth: E2B create: HTTP 401: the API key was rejected/);
    expect(e2b.reason).not.toContain(KEY);
  });
});

describe("profile.e2b-burst: each fault ends in the right state and ledger", () => {
  it("create → ready → extend → destroy: one provider sandbox, billed exactly for the time it ran", async () => {
    const { id, teamId } = await request("e2b-burst", 120);
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    expect(ready.state).toBe("ready");
    expect(ready.expiresAt!.getTime()).toBe(ready.startedAt!.getTime() + 120_000);

    const extended = await extendSandbox(rt, { teamId, userId: null }, id, 120);
    expect(extended.ttlSeconds).toBe(240);
    const providerEnd = onProvider(id)[0]!.endAt;
    expect(providerEnd).toBe(ready.startedAt!.getTime() + 300_000); // new expiry + the grace

    clock.advance(95_000);
    await destroySandbox(rt, { teamId, userId: null }, id);
    await teardownSandbox(rt, id, "requested");
    const done = await row(id);
    expect(done.state).toBe("destroyed");
    const ranMs = done.endedAt!.getTime() - done.startedAt!.getTime();
    const usage = await usageOf(id);
    expect(usage).toHaveLength(1);
    expect(usage[0]!.durationMs).toBe(ranMs);
    expect(usage[0]!.costMicros).toBe(e2bCost(ranMs));
    expect((await ledgerOf(id)).filter((l) => l.kind === "debit").map((l) => l.amountMicros)).toEqual([e2bCost(ranMs)]);
    expect((await getBalance(rt.db, teamId)).balanceMicros).toBe(10_000_000n - e2bCost(ranMs));
    expect(onProvider(id).map((s) => s.endReason)).toEqual(["killed"]);
  });

  it("401 on create: failed at once (a retry cannot fix a key), nothing billed, nothing on the provider", async () => {
    const { id, teamId } = await request("e2b-burst", 60);
    fake.inject({ op: "create", status: 401 });
    await provision(rt, id, attempt(1));
    const failed = await row(id);
    expect(failed.state).toBe("failed");
    expect(failed.failureReason).toMatch(/ext.e2b: create failed: auth: E2B create: HTTP 401/);
    expect(onProvider(id)).toHaveLength(0);
    await expectNothingBilled(teamId, id);
  });

  it("429 with Retry-After: the retry waits at least that long, then one sandbox is created", async () => {
    const { id } = await request("e2b-burst", 60);
    fake.inject({ op: "create", status: 429, retryAfterSeconds: 5 });
    await expect(provision(rt, id, attempt(1))).rejects.toMatchObject({ name: "RetryLaterError", retryAfterMs: 5000 });
    expect((await row(id)).state).toBe("provisioning");
    await provision(rt, id, attempt(2));
    expect((await row(id)).state).toBe("ready");
    expect(onProvider(id)).toHaveLength(1);
    expect(fake.creates().map((c) => c.status)).toEqual([429, 201]);
  });

  it("503 (no capacity) on every attempt: failed after the last, hold released once, nothing billed", async () => {
    const { id, teamId } = await request("e2b-burst", 60);
    fake.inject({ op: "create", status: 503, errorCode: "sandbox_capacity_unavailable", times: 3 });
    await expect(provision(rt, id, attempt(1))).rejects.toMatchObject({ name: "RetryLaterError" });
    await expect(provision(rt, id, attempt(2))).rejects.toMatchObject({ name: "RetryLaterError" });
    await provision(rt, id, attempt(3));
    const failed = await row(id);
    expect(failed.state).toBe("failed");
    expect(failed.failureReason).toMatch(/capacity: E2B create: HTTP 503/);
    expect(onProvider(id)).toHaveLength(0);
    await expectNothingBilled(teamId, id);
  });

  it("E2B's concurrency cap (429, no Retry-After): e2b-burst retries, burst-sandbox falls back", async () => {
    fake.configure({ maxConcurrent: 1 });
    const first = await request("e2b-burst", 60);
    await provision(rt, first.id, attempt(1));
    const capped = await request("e2b-burst", 60);
    await expect(provision(rt, capped.id, attempt(1))).rejects.toMatchObject({ name: "RetryLaterError" });
    expect(onProvider(capped.id)).toHaveLength(0);
    const fallback = await request("burst-sandbox", 60);
    await provision(rt, fallback.id, attempt(1));
    expect((await row(fallback.id)).extensionId).toBe("ext.saas-stub");
    // Room again: the retry creates it.
    await destroySandbox(rt, { teamId: first.teamId, userId: null }, first.id);
    await teardownSandbox(rt, first.id, "requested");
    await provision(rt, capped.id, attempt(2));
    expect((await row(capped.id)).state).toBe("ready");
    expect(onProvider(capped.id)).toHaveLength(1);
  });

  it("a create the provider completed after we gave up is adopted, not duplicated (found at once)", async () => {
    const { id } = await request("e2b-burst", 60);
    fake.inject({ op: "create", slowCreate: { createAfterMs: 0, replyAfterMs: 6_000 } });
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    expect(ready.state).toBe("ready");
    expect(onProvider(id).map((s) => s.sandboxID)).toEqual([ready.providerSandboxId]);
    expect(fake.creates()).toHaveLength(1);
    const detail = await getSandbox(rt, ready.teamId, id);
    expect(detail.events.map((e) => e.reason)).toContain("adopted the provider sandbox an earlier attempt created");
  });

  it("a create that lands after the lookup is adopted by the next attempt, never created twice", async () => {
    const { id } = await request("e2b-burst", 60);
    fake.inject({ op: "create", slowCreate: { createAfterMs: 4_500, replyAfterMs: 10_000 } });
    await expect(provision(rt, id, attempt(1))).rejects.toMatchObject({ name: "RetryLaterError", message: expect.stringMatching(/timeout: E2B create: no answer/) });
    expect(onProvider(id)).toHaveLength(0); // not there yet when we looked
    await fake.waitForSandboxes(1);
    await provision(rt, id, attempt(2));
    const ready = await row(id);
    expect(ready.state).toBe("ready");
    expect(onProvider(id).map((s) => s.sandboxID)).toEqual([ready.providerSandboxId]);
    expect(fake.creates()).toHaveLength(1);
  });

  it("teardown: 409 and 429 (Retry-After) are retried, nothing settles until E2B confirms, then one debit", async () => {
    const { id } = await request("e2b-burst", 60);
    await provision(rt, id, attempt(1));
    const pid = (await row(id)).providerSandboxId!;
    clock.advance(60_000);
    fake.inject({ op: "kill", status: 409, sandboxId: pid }, { op: "kill", status: 429, retryAfterSeconds: 3, sandboxId: pid });
    await expect(teardownSandbox(rt, id, "ttl")).rejects.toMatchObject({ name: "RetryLaterError" });
    await expect(teardownSandbox(rt, id, "ttl")).rejects.toMatchObject({ name: "RetryLaterError", retryAfterMs: 3000 });
    expect((await row(id)).state).toBe("destroying");
    expect(await usageOf(id)).toHaveLength(0);
    await teardownSandbox(rt, id, "ttl");
    const done = await row(id);
    expect(done.state).toBe("destroyed");
    expect(done.costMicros).toBe(e2bCost(60_000));
    expect((await ledgerOf(id)).filter((l) => l.kind === "debit")).toHaveLength(1);
  });

  it("teardown: 401 stops, flags the sandbox and leaves the ledger open", async () => {
    const { id } = await request("e2b-burst", 60);
    await provision(rt, id, attempt(1));
    clock.advance(60_000);
    fake.inject({ op: "kill", status: 401 });
    await expect(teardownSandbox(rt, id, "ttl")).rejects.toMatchObject({ name: "PermanentJobError" });
    const flagged = await row(id);
    expect(flagged.state).toBe("destroying");
    expect(flagged.attentionReason).toMatch(/teardown stopped: auth: E2B kill: HTTP 401/);
    expect(await usageOf(id)).toHaveLength(0);
    expect(onProvider(id)[0]!.endedAt).toBeNull(); // still running: a person must look (runbook)
  });

  it("teardown: a sandbox E2B no longer has (404) is already gone, billed to when it was last seen", async () => {
    const { id } = await request("e2b-burst", 600);
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    clock.advance(30_000);
    await reconcileExtension(rt, "ext.e2b"); // seen running at +30 s
    clock.advance(20_000);
    // E2B ends it and forgets it: a 404 cannot say when it ended, so nothing after +30 s is billed.
    fake.endEarly(ready.providerSandboxId!);
    await destroySandbox(rt, { teamId: ready.teamId, userId: null }, id);
    await teardownSandbox(rt, id, "requested");
    const done = await row(id);
    expect(done.state).toBe("destroyed");
    expect(done.costMicros).toBe(e2bCost(30_000));
    expect(onProvider(id)[0]!.endReason).toBe("provider");
  });

  it("extend: E2B clamps to its plan maximum; the effective end is read back and stored", async () => {
    fake.configure({ planMaxSeconds: 600 });
    const { id, teamId } = await request("e2b-burst", 120);
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    const extended = await extendSandbox(rt, { teamId, userId: null }, id, 1200);
    // E2B kept it to 600 s of life; our expiry stays the grace inside that.
    expect(extended.ttlSeconds).toBe(540);
    expect(new Date(extended.expiresAt!).getTime()).toBe(ready.startedAt!.getTime() + 540_000);
    expect(onProvider(id)[0]!.endAt).toBe(ready.startedAt!.getTime() + 600_000);
    // The hold grown for the 1320 s asked is cut back to the 540 s granted, in the ledger too.
    expect(extended.holdMicros).toBe(e2bCost(540_000).toString());
    expect(extended.estimateMicros).toBe(e2bCost(540_000).toString());
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(e2bCost(540_000));
    const events = await rt.db.select().from(sandboxEvents).where(eq(sandboxEvents.sandboxId, id));
    expect(events.find((e) => e.kind === "extended")?.reason).toMatch(/^TTL extended to 9m 00s, not the 22m 00s asked: ext\.e2b granted no more \(expires .*\); hold grew by \$/);
    await destroySandbox(rt, { teamId, userId: null }, id);
    await teardownSandbox(rt, id, "requested");
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(0n);
  });
});

describe("E2B and the reconciler", () => {
  it("a sandbox E2B ends before its TTL is settled lost, billed only to when it was last seen running", async () => {
    const { id, teamId } = await request("e2b-burst", 600);
    await provision(rt, id, attempt(1));
    const ready = await row(id);
    clock.advance(20_000);
    await reconcileExtension(rt, "ext.e2b"); // sees it running
    expect((await row(id)).lastSeenAt!.getTime()).toBe(ready.startedAt!.getTime() + 20_000);
    clock.advance(5_000);
    fake.endEarly(ready.providerSandboxId!); // e.g. the team killed it with E2B's SDK
    clock.advance(30_000);
    await reconcileExtension(rt, "ext.e2b");
    const lost = await row(id);
    expect(lost.state).toBe("lost");
    expect(lost.costMicros).toBe(e2bCost(20_000)); // not the 600 s it was held for
    const usage = await usageOf(id);
    expect(usage.map((u) => u.durationMs)).toEqual([20_000]);
    expect((await getBalance(rt.db, teamId)).balanceMicros).toBe(10_000_000n - e2bCost(20_000));
    expect((await getBalance(rt.db, teamId)).heldMicros).toBe(0n);
  });

  it("kills E2B sandboxes carrying our tag that no live row owns, reading every page", async () => {
    fake.configure({ pageSize: 2 });
    const adapter = rt.adapters.get("ext.e2b")!;
    const ctx = { logger: rt.logger, clock: rt.clock, credentials: { api_key: KEY } };
    const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };
    const orphans: string[] = [];
    for (let i = 0; i < 5; i++) {
      orphans.push((await adapter.provision(ctx, { sandboxId: `sbx_orphan${i}x${Date.now()}`, teamId: "t", spec, timeoutSeconds: 120 })).providerSandboxId);
    }
    const { id } = await request("e2b-burst", 600);
    await provision(rt, id, attempt(1));
    const report = await reconcileExtension(rt, "ext.e2b");
    expect(report).toMatchObject({ aborted: null, listed: 6, orphansKilled: 5 });
    const gone = fake.sandboxes().filter((s) => orphans.includes(s.sandboxID));
    expect(gone.map((s) => s.endReason)).toEqual(["killed", "killed", "killed", "killed", "killed"]);
    expect((await row(id)).state).toBe("ready");
    expect(onProvider(id)[0]!.endedAt).toBeNull();
  });

  it("a listing that fails on a later page proves nothing: no kill, nothing marked lost", async () => {
    fake.configure({ pageSize: 1 });
    const { id } = await request("e2b-burst", 600);
    await provision(rt, id, attempt(1));
    const other = await request("e2b-burst", 600);
    await provision(rt, other.id, attempt(1));
    clock.advance(60_000);
    fake.inject({ op: "list", status: 503, skip: 1 });
    const report = await reconcileExtension(rt, "ext.e2b");
    expect(report.aborted).toMatch(/listing failed: .*HTTP 503/);
    expect((await row(id)).state).toBe("ready");
    expect((await row(other.id)).state).toBe("ready");
    expect(fake.sandboxes().every((s) => s.endedAt === null)).toBe(true);
  });
});
