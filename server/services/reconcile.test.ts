import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../../adapters/saas-stub/stub-adapter";
import { reconcilerFindings, sandboxes, usageRecords } from "../../db/schema";
import { createTestRuntime, openTestDb, seedTeam, TestClock, type TestRuntime } from "../testing/harness";
import { provisionSandbox, settleSandbox, teardownSandbox } from "./lifecycle";
import { reconcileExtension } from "./reconcile";
import { createSandbox } from "./sandboxes";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let clock: TestClock;
const ctx = () => ({ logger: rt.logger, clock: rt.clock, credentials: {} });
const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };

beforeAll(async () => {
  dbHandle = await openTestDb();
  clock = new TestClock();
  // Page size 2, so every listing below spans several pages.
  rt = await createTestRuntime(dbHandle, { clock, processEnv: { SANDBOXER_STUB_PAGE_SIZE: "2" } });
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

const stub = () => stubControl(rt.redis, rt.keyPrefix);
const adapter = () => rt.adapters.get("ext.saas-stub")!;
const row = async (id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
async function readySandbox(teamId: string) {
  const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 3600 });
  await provisionSandbox(rt, created.id, { attempt: 1, isLastAttempt: false });
  return row(created.id);
}
// Clear leftovers so each test sees only its own provider sandboxes.
async function clearProvider() {
  for (const s of await adapter().list(ctx())) await adapter().teardown(ctx(), s.providerSandboxId);
}

describe("reconciler", () => {
  it("kills a provider sandbox with no live row and records its run time", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const finished = await readySandbox(teamId);
    clock.advance(5_000);
    await adapter().teardown(ctx(), finished.providerSandboxId!);
    await settleSandbox(rt, finished.id, { outcome: "terminated", providerEndedAt: null, reason: "test" });
    // A create whose row is finished (a late duplicate) and one with no row at all.
    const late = await adapter().provision(ctx(), { sandboxId: finished.id, teamId, spec, timeoutSeconds: 600 });
    const stray = await adapter().provision(ctx(), { sandboxId: "sbx_norow1", teamId, spec, timeoutSeconds: 600 });
    const alive = await readySandbox(teamId);
    clock.advance(42_000);

    const report = await reconcileExtension(rt, "ext.saas-stub");
    expect(report).toMatchObject({ aborted: null, orphansKilled: 2, lost: 0 });
    const findings = await rt.db.select().from(reconcilerFindings).where(eq(reconcilerFindings.kind, "orphan"));
    const byPid = new Map(findings.map((f) => [f.providerSandboxId, f]));
    expect(byPid.get(late.providerSandboxId)).toMatchObject({ action: "killed", observedRunMs: 42_000, detail: "ledger row is destroyed" });
    expect(byPid.get(stray.providerSandboxId)).toMatchObject({ action: "killed", detail: "no ledger row" });
    const live = (await adapter().list(ctx())).map((s) => s.providerSandboxId);
    expect(live).toEqual([alive.providerSandboxId]);
    expect((await row(alive.id)).lastSeenAt?.getTime()).toBe(clock.now().getTime());
  });

  it("marks a ready row whose provider sandbox is gone as lost, billed to when last seen", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const ready = await readySandbox(teamId);
    clock.advance(20_000);
    await reconcileExtension(rt, "ext.saas-stub"); // seen running at +20 s
    clock.advance(5_000);
    await stub().endEarly(ready.providerSandboxId!, clock.now());
    clock.advance(35_000);
    const report = await reconcileExtension(rt, "ext.saas-stub");
    expect(report.lost).toBe(1);
    const lost = await row(ready.id);
    expect(lost.state).toBe("lost");
    const [usage] = await rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, ready.id));
    expect(usage?.durationMs).toBe(20_000);
    expect(usage?.costMicros).toBe(26n * 20n);
    expect(usage?.endReason).toMatch(/^lost: the provider no longer has it/);
  });

  it("kills nothing and marks nothing lost when a later page of the listing fails", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const ready = await readySandbox(teamId);
    await readySandbox(teamId);
    const stray = await adapter().provision(ctx(), { sandboxId: "sbx_norow2", teamId, spec, timeoutSeconds: 600 });
    await stub().endEarly(ready.providerSandboxId!, clock.now());
    clock.advance(60_000);
    await stub().inject("list", { kind: "unavailable", pass: true }, { kind: "unavailable", message: "page 2 timed out" });

    const report = await reconcileExtension(rt, "ext.saas-stub");
    expect(report.aborted).toMatch(/listing failed: stub: simulated unavailable|page 2 timed out/);
    expect(report).toMatchObject({ orphansKilled: 0, lost: 0 });
    expect((await row(ready.id)).state).toBe("ready");
    // A platform listing failing is an outage, not a sighting: the sandbox that ended early keeps
    // its last real sighting, so it is not billed through the outage.
    expect((await row(ready.id)).lastSeenAt).toEqual(ready.lastSeenAt);
    expect((await adapter().list(ctx())).map((s) => s.providerSandboxId)).toContain(stray.providerSandboxId);
    const failed = await rt.db.select().from(reconcilerFindings).where(eq(reconcilerFindings.kind, "listing_failed"));
    expect(failed.at(-1)?.action).toBe("pass aborted; nothing killed or marked lost");
  });

  it("leaves a ready row past its expiry to its teardown: the provider's own timeout ended it, it expired", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 60 });
    await provisionSandbox(rt, created.id, { attempt: 1, isLastAttempt: false });
    clock.advance(200_000); // past the TTL and the provider's timeout (TTL + 60 s): the provider ended it
    await reconcileExtension(rt, "ext.saas-stub");
    expect((await row(created.id)).state).toBe("ready");
    await teardownSandbox(rt, created.id, "ttl");
    const done = await row(created.id);
    expect(done.state).toBe("destroyed");
    expect(done.endedAt).toEqual(done.expiresAt);
    expect(done.costMicros).toBe(26n * 60n);
  });

  // Postgres refuses a statement with more than 65,535 parameters: at 100k live sandboxes one
  // `IN (…)` over every tagged id failed the whole pass. Ids now go in chunks; chunk 2 here.
  it("looks rows up in chunks, so a provider with any number of sandboxes can be reconciled", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const live = [];
    for (let i = 0; i < 5; i++) live.push(await readySandbox(teamId));
    const strays = [];
    for (let i = 0; i < 3; i++) strays.push(await adapter().provision(ctx(), { sandboxId: `sbx_chunkstray${i}`, teamId, spec, timeoutSeconds: 600 }));
    clock.advance(7_000);
    const report = await reconcileExtension(rt, "ext.saas-stub", { idChunk: 2 });
    expect(report).toMatchObject({ aborted: null, listed: 8, orphansKilled: 3, lost: 0 });
    for (const r of live) expect((await row(r.id)).lastSeenAt?.getTime()).toBe(clock.now().getTime());
    expect((await adapter().list(ctx())).map((s) => s.providerSandboxId).sort()).toEqual(live.map((r) => r.providerSandboxId).sort());
  });

  // A pass over many sandboxes takes a while. A sandbox that became ready after the listing was
  // taken is not in it; judged against the time after the pass, it looked "ready long enough"
  // and was marked lost while it ran.
  it("does not mark lost a sandbox that became ready while a slow listing was being taken", async () => {
    await clearProvider();
    const teamId = await seedTeam(rt, 10_000_000n);
    const real = adapter();
    let late: Awaited<ReturnType<typeof readySandbox>> | null = null;
    rt.adapters.set("ext.saas-stub", {
      ...real,
      list: async (c, filter) => {
        const out = await real.list(c, filter);
        if (!filter) {
          late = await readySandbox(teamId); // ready just after the snapshot
          clock.advance(20_000); // the rest of the pass takes longer than LOST_MIN_AGE_MS
        }
        return out;
      },
    });
    try {
      await reconcileExtension(rt, "ext.saas-stub");
      expect((await row(late!.id)).state).toBe("ready");
    } finally {
      rt.adapters.set("ext.saas-stub", real);
    }
    // The next pass sees it running.
    await reconcileExtension(rt, "ext.saas-stub");
    expect((await row(late!.id)).state).toBe("ready");
    expect((await rt.db.select().from(reconcilerFindings).where(eq(reconcilerFindings.sandboxId, late!.id)))).toEqual([]);
  });
});
