/**
 * The reconciler and billing with more than one set of provider credentials on one extension:
 * the platform's E2B key and teams' own (BYOK, OpenBao-shaped references), against the local
 * E2B fake, which keeps each key's sandboxes apart as E2B does and can reject a key (401).
 *
 * Each test is a fault a hostile tester found:
 * 1. one team's rejected key stopped the reconciler for every team on the provider;
 * 2. a team could plant entries in another team's reconciler findings through provider tags;
 * 3. a team could make its key fail at the TTL teardown and pay only up to the last sighting.
 */
import { eq, inArray } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SANDBOX_ID_KEY } from "../../adapters/e2b/e2b-adapter";
import { startE2bFake, type E2bFake } from "../../adapters/e2b/fake/e2b-fake";
import {
  reconcilerFindings,
  sandboxes,
  teamCredentialBindings,
  usageRecords,
} from "../../db/schema";
import { costMicros, parseRatePico } from "../money";
import type { SecretResolver } from "../secrets";
import {
  createTestRuntime,
  openTestDb,
  seedTeam,
  TestClock,
  type TestRuntime,
} from "../testing/harness";
import { bindCredential } from "./credentials";
import { provisionSandbox, teardownSandbox } from "./lifecycle";
import { reconcileExtension } from "./reconcile";
import { listReconcilerFindings } from "./reconciler-findings";
import { createSandbox, destroySandbox } from "./sandboxes";

const PLATFORM_KEY = "e2b_00000000000000000000000000000000a1a7";
let db: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let clock: TestClock;
let fake: E2bFake;
/** A stand-in for OpenBao: reference → value. */
const vault = new Map<string, string>();

const resolveSecrets: SecretResolver = async (refs) => {
  const values: Record<string, string> = {};
  for (const [field, ref] of Object.entries(refs)) {
    const value = ref === "env:E2B_API_KEY" ? PLATFORM_KEY : vault.get(ref);
    if (value === undefined) return { ok: false, reason: `credential ${field}: ${ref}: not found` };
    values[field] = value;
  }
  return { ok: true, values };
};

beforeAll(async () => {
  db = await openTestDb();
  clock = new TestClock();
  fake = await startE2bFake({ now: () => clock.now().getTime() });
  rt = await createTestRuntime(db, {
    clock,
    resolveSecrets,
    processEnv: {
      E2B_API_KEY: PLATFORM_KEY,
      SANDBOXER_E2B_API_URL: fake.url,
      SANDBOXER_E2B_CREATE_TIMEOUT_MS: "2000",
      SANDBOXER_E2B_READY_POLL_MS: "20",
      SANDBOXER_COOLDOWN_FAILURES: "1000",
    },
  });
});
afterAll(async () => {
  await rt?.cleanup();
  await fake?.close();
  await db?.drop();
});
beforeEach(() => fake.reset());
// Each test starts with no live sandbox and no team key from an earlier one.
afterEach(async () => {
  await rt.db
    .update(sandboxes)
    .set({ state: "destroyed" })
    .where(inArray(sandboxes.state, ["requested", "provisioning", "ready", "destroying"]));
  await rt.db.delete(teamCredentialBindings);
});

const E2B_RATES = {
  vcpuSecondPico: parseRatePico("0.000014"),
  gibSecondPico: parseRatePico("0.0000045"),
  gpuSecondPico: 0n,
};
const e2bCost = (ms: number) =>
  costMicros(E2B_RATES, { vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0 }, ms);
const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };
const row = async (id: string) =>
  (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
const adapter = () => rt.adapters.get("ext.e2b")!;
const ctxWith = (apiKey: string) => ({
  logger: rt.logger,
  clock: rt.clock,
  credentials: { api_key: apiKey },
});
const fakeSandbox = (pid: string) => fake.sandboxes().find((s) => s.sandboxID === pid)!;

/** A team on the platform's E2B key. */
const platformTeam = () => seedTeam(rt, 10_000_000n, "Team A");

/** A team that bound its own E2B key (an OpenBao reference under its own path). */
async function byokTeam(n: number) {
  const teamId = await seedTeam(rt, 10_000_000n, "Team B");
  const key = `e2b_${String(n).padStart(4, "0")}${"b".repeat(32)}`;
  const secretRef = `openbao://secret/teams/${teamId}/e2b#api_key`;
  vault.set(secretRef, key);
  const check = await bindCredential(
    rt,
    { teamId, userId: "user_byok_test" },
    { extensionId: "ext.e2b", field: "api_key", secretRef },
  );
  expect(check).toMatchObject({ resolves: true, source: "team" });
  return { teamId, key };
}

async function readySandbox(teamId: string, ttlSeconds = 600) {
  const created = await createSandbox(
    rt,
    { teamId, userId: null },
    { profile: "e2b-burst", ttlSeconds },
  );
  clock.advance(1_000);
  await provisionSandbox(rt, created.id, { attempt: 1, isLastAttempt: false });
  const ready = await row(created.id);
  expect(ready.state).toBe("ready");
  return ready;
}

describe("one team's rejected key", () => {
  it("does not stop the reconciler for other teams; its own sandboxes are left alone, and it is told why", async () => {
    const teamA = await platformTeam();
    const b = await byokTeam(1);
    const a = await readySandbox(teamA);
    const mine = await readySandbox(b.teamId);
    expect(mine.credentialSource).toBe("team");
    expect(fakeSandbox(mine.providerSandboxId!).owner).not.toBe(
      fakeSandbox(a.providerSandboxId!).owner,
    );
    // A stray on B's own account, tagged for B: an orphan, but only B's listing can show that.
    const stray = await adapter().provision(ctxWith(b.key), {
      sandboxId: "sbx_bstray1",
      teamId: b.teamId,
      spec,
      timeoutSeconds: 600,
    });

    // E2B now rejects B's key (revoked, rotated at E2B, ...): it still resolves from OpenBao.
    fake.configure({ apiKeys: [PLATFORM_KEY] });
    clock.advance(20_000);
    fake.endEarly(a.providerSandboxId!); // the provider ends A's sandbox early
    clock.advance(20_000);
    const report = await reconcileExtension(rt, "ext.e2b");

    // A's listing was reconciled in full: its sandbox is lost, billed to when it was last seen.
    expect(report.aborted).toBeNull();
    expect(report.lost).toBe(1);
    expect((await row(a.id)).state).toBe("lost");
    expect((await listReconcilerFindings(rt, teamA)).items.map((f) => f.kind)).toEqual(["lost"]);

    // B's listing proved nothing: its sandbox stays ready, its stray is not killed.
    expect(report.listingFailures).toEqual([
      { teamIds: [b.teamId], platform: false, reason: expect.stringMatching(/E2B list: HTTP 401/) },
    ]);
    expect(report.orphansKilled).toBe(0);
    expect((await row(mine.id)).state).toBe("ready");
    expect(fakeSandbox(stray.providerSandboxId).endedAt).toBeNull();
    // Nothing showed B's sandbox ended: it stays billable at least to this pass.
    expect((await row(mine.id)).lastSeenAt!.getTime()).toBe(clock.now().getTime());

    // B's admins see why, with no secret in it.
    const forB = await listReconcilerFindings(rt, b.teamId);
    expect(forB.items).toHaveLength(1);
    expect(forB.items[0]).toMatchObject({
      kind: "listing_failed",
      detail: expect.stringMatching(/E2B list: HTTP 401/),
    });
    const all = JSON.stringify(await rt.db.select().from(reconcilerFindings));
    expect(all).not.toContain(b.key);
    expect(all).not.toContain(PLATFORM_KEY);

    // B fixes its key: the next pass reconciles B's account too.
    fake.configure({ apiKeys: null });
    clock.advance(5_000);
    const next = await reconcileExtension(rt, "ext.e2b");
    expect(next).toMatchObject({ aborted: null, listingFailures: [], orphansKilled: 1, lost: 0 });
    expect(fakeSandbox(stray.providerSandboxId).endReason).toBe("killed");
    expect((await row(mine.id)).state).toBe("ready");
    const orphan = (await listReconcilerFindings(rt, b.teamId, { kind: "orphan" })).items;
    expect(orphan).toMatchObject([
      {
        providerSandboxId: stray.providerSandboxId,
        sandboxId: "sbx_bstray1",
        action: "killed",
        detail: "no ledger row",
      },
    ]);
  });

  it("a team's listing that fails part-way kills nothing and marks nothing lost on its account; the platform's is reconciled", async () => {
    fake.configure({ pageSize: 1 });
    const teamA = await platformTeam();
    const b = await byokTeam(5);
    const a = await readySandbox(teamA);
    const mine = await readySandbox(b.teamId);
    const strays = [];
    for (const sandboxId of ["sbx_bstray2", "sbx_bstray3"]) {
      strays.push(
        await adapter().provision(ctxWith(b.key), {
          sandboxId,
          teamId: b.teamId,
          spec,
          timeoutSeconds: 600,
        }),
      );
    }
    clock.advance(20_000);
    fake.endEarly(a.providerSandboxId!);
    fake.endEarly(mine.providerSandboxId!);
    clock.advance(20_000);
    // The platform's listing (now empty: one page) passes, B's first page passes, its second fails.
    fake.inject({ op: "list", status: 503, skip: 2 });
    const report = await reconcileExtension(rt, "ext.e2b");
    expect(report).toMatchObject({ aborted: null, lost: 1, orphansKilled: 0 });
    expect(report.listingFailures).toEqual([
      { teamIds: [b.teamId], platform: false, reason: expect.stringMatching(/E2B list: HTTP 503/) },
    ]);
    expect((await row(a.id)).state).toBe("lost");
    expect((await row(mine.id)).state).toBe("ready");
    for (const stray of strays) expect(fakeSandbox(stray.providerSandboxId).endedAt).toBeNull();
  });

  it("a team key that no longer resolves is that team's finding, and its sandboxes are not judged", async () => {
    const b = await byokTeam(2);
    const mine = await readySandbox(b.teamId);
    vault.delete(`openbao://secret/teams/${b.teamId}/e2b#api_key`);
    fake.endEarly(mine.providerSandboxId!);
    clock.advance(30_000);
    const report = await reconcileExtension(rt, "ext.e2b");
    expect(report.aborted).toBeNull();
    expect(report.listingFailures).toContainEqual({
      teamIds: [b.teamId],
      platform: false,
      reason: expect.stringMatching(/^credentials not available: .*not found/),
    });
    expect((await row(mine.id)).state).toBe("ready");
    expect((await listReconcilerFindings(rt, b.teamId)).items.map((f) => f.kind)).toEqual([
      "listing_failed",
    ]);
  });
});

describe("findings and provider tags", () => {
  it("a team's key cannot plant findings in another team's list, nor get another team's sandbox killed", async () => {
    const teamA = await platformTeam();
    const b = await byokTeam(3);
    const aLive = await readySandbox(teamA);
    const aDone = await readySandbox(teamA);
    await destroySandbox(rt, { teamId: teamA, userId: null }, aDone.id);
    await teardownSandbox(rt, aDone.id, "requested");
    expect((await row(aDone.id)).state).toBe("destroyed");

    // With its own key, B creates sandboxes at E2B whose tags claim team A: one naming a sandbox
    // that does not exist, one naming A's finished sandbox.
    const injected = await adapter().provision(ctxWith(b.key), {
      sandboxId: "sbx_injected_by_team_b",
      teamId: teamA,
      spec,
      timeoutSeconds: 600,
    });
    const onRow = await adapter().provision(ctxWith(b.key), {
      sandboxId: aDone.id,
      teamId: teamA,
      spec,
      timeoutSeconds: 600,
    });
    clock.advance(5_000);
    const report = await reconcileExtension(rt, "ext.e2b");

    expect(report).toMatchObject({ aborted: null, orphansKilled: 0, orphansLeft: 2, lost: 0 });
    // Nothing in A's findings; A's sandboxes untouched.
    expect((await listReconcilerFindings(rt, teamA)).items).toEqual([]);
    expect((await row(aLive.id)).state).toBe("ready");
    // B's own account, B's findings: left running (a team's key cannot speak for another team),
    // and nothing about A's sandbox is repeated to B.
    const forB = (await listReconcilerFindings(rt, b.teamId)).items;
    expect(forB.map((f) => f.providerSandboxId).sort()).toEqual(
      [injected.providerSandboxId, onRow.providerSandboxId].sort(),
    );
    for (const f of forB) {
      expect(f).toMatchObject({
        kind: "orphan",
        sandboxId: null,
        action: expect.stringMatching(/^left running/),
      });
      expect(f.detail).not.toMatch(/destroyed|ledger row/);
    }
    expect(fakeSandbox(injected.providerSandboxId).endedAt).toBeNull();
    expect(fakeSandbox(onRow.providerSandboxId).endedAt).toBeNull();
    // No finding anywhere names team A but A's own.
    const namingA = await rt.db
      .select()
      .from(reconcilerFindings)
      .where(eq(reconcilerFindings.teamId, teamA));
    expect(namingA).toEqual([]);
  });

  it("an orphan on the platform's account is still killed and shown to the team its (Sandboxer-written) tag names", async () => {
    const teamA = await platformTeam();
    const stray = await adapter().provision(ctxWith(PLATFORM_KEY), {
      sandboxId: "sbx_platstray1",
      teamId: teamA,
      spec,
      timeoutSeconds: 600,
    });
    clock.advance(5_000);
    const report = await reconcileExtension(rt, "ext.e2b");
    expect(report).toMatchObject({ orphansKilled: 1, orphansLeft: 0 });
    expect(fakeSandbox(stray.providerSandboxId).endReason).toBe("killed");
    expect((await listReconcilerFindings(rt, teamA)).items).toMatchObject([
      {
        kind: "orphan",
        sandboxId: "sbx_platstray1",
        providerSandboxId: stray.providerSandboxId,
        action: "killed",
        detail: "no ledger row",
      },
    ]);
  });
});

describe("billing when a teardown could not confirm the end", () => {
  it("a team whose key fails at the TTL teardown pays to the TTL, not to the last sighting", async () => {
    const b = await byokTeam(4);
    const ready = await readySandbox(b.teamId, 120);
    clock.advance(40_000);
    await reconcileExtension(rt, "ext.e2b"); // seen running at +40 s
    expect((await row(ready.id)).lastSeenAt!.getTime()).toBe(ready.startedAt!.getTime() + 40_000);

    fake.configure({ apiKeys: [PLATFORM_KEY] }); // B makes its key invalid before the TTL
    clock.set(ready.expiresAt!);
    await expect(teardownSandbox(rt, ready.id, "ttl")).rejects.toMatchObject({
      name: "PermanentJobError",
    });
    const flagged = await row(ready.id);
    expect(flagged.attentionReason).toMatch(/teardown stopped: auth: E2B kill: HTTP 401/);
    expect(flagged.attentionReason).not.toContain(b.key);

    // It runs on to E2B's own timeout (TTL + 60 s), which then forgets it.
    clock.advance(70_000);
    expect(fake.sandboxesTagged(SANDBOX_ID_KEY, ready.id)[0]!.endReason).toBe("timeout");
    fake.configure({ apiKeys: null }); // key restored
    await destroySandbox(rt, { teamId: b.teamId, userId: null }, ready.id);
    await teardownSandbox(rt, ready.id, "requested"); // E2B: 404, already gone

    const done = await row(ready.id);
    expect(done.state).toBe("destroyed");
    expect(done.endedAt).toEqual(done.expiresAt); // capped at the expiry the hold was sized for
    const [usage] = await rt.db
      .select()
      .from(usageRecords)
      .where(eq(usageRecords.sandboxId, ready.id));
    expect(usage!.durationMs).toBe(120_000);
    expect(done.costMicros).toBe(e2bCost(120_000));
  });
});
