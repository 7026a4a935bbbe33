import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingOutbox, finHubBatches, organization } from "../../db/schema";
import type { FinHubConfig } from "../fin-hub/config";
import { serializeBatchJson, sha256Hex } from "../fin-hub/payload";
import { startFinHubReceiver, type FinHubReceiver } from "../testing/fin-hub-receiver";
import { createTestRuntime, openTestDb, seedTeam, TestClock, type TestRuntime } from "../testing/harness";
import { claimBatch, finHubReconciliation, serializeBackfilledOutboxRows, listFinHubBatches, requeueFinHubBatch, runFinHubExport } from "./fin-hub";
import { provisionSandbox, settleSandbox, teardownSandbox } from "./lifecycle";
import { createSandbox, destroySandbox } from "./sandboxes";

const SECRET = "test-fin-hub-secret-0123456789abcdef";
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let clock: TestClock;
let receiver: FinHubReceiver;

beforeAll(async () => {
  dbHandle = await openTestDb();
  clock = new TestClock(new Date());
  rt = await createTestRuntime(dbHandle, { clock });
  receiver = await startFinHubReceiver({ secret: SECRET });
});
afterAll(async () => {
  await receiver?.close();
  await rt.cleanup();
  await dbHandle.drop();
});

const cfg = (over: Partial<FinHubConfig> = {}): FinHubConfig => ({
  url: receiver.url,
  secrets: [SECRET],
  intervalMs: 1_000,
  batchSize: 7,
  attempts: 6,
  timeoutMs: 1_500, // only the "hang" fault should ever reach it, even on a loaded machine
  concurrency: 1,
  backoffBaseMs: 1_000,
  maxBackoffMs: 60_000,
  ...over,
});

/** A sandbox metered for `ms` through the real services: its usage record and debit are settled. */
async function metered(teamId: string, ms: number) {
  const created = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 3600 });
  await provisionSandbox(rt, created.id, { attempt: 1, isLastAttempt: false });
  clock.advance(ms);
  await destroySandbox(rt, { teamId, userId: null }, created.id);
  await teardownSandbox(rt, created.id, "requested");
  return created.id;
}

async function team(name: string) {
  const id = await seedTeam(rt, 100_000_000n);
  await rt.db.update(organization).set({ name }).where(eq(organization.id, id));
  return id;
}

/** Runs passes, moving the clock past every backoff, until the outbox is drained (or gives up). */
async function drain(c: FinHubConfig, maxPasses = 40) {
  for (let i = 0; i < maxPasses; i++) {
    await runFinHubExport(rt, { cfg: c, budgetMs: 5_000 });
    const rec = await finHubReconciliation(rt, null);
    if (rec.unbatched.records === 0 && rec.inFlight.records === 0) return rec;
    clock.advance(10 * 60_000);
  }
  throw new Error("outbox did not drain");
}

describe("outbox", () => {
  it("gets exactly one row per metered sandbox, in the settle transaction", async () => {
    const teamId = await team("Outbox team");
    const id = await metered(teamId, 5_000);
    // A second settle (a duplicate job) changes nothing.
    await settleSandbox(rt, id, { outcome: "terminated", providerEndedAt: null, reason: "again" });
    const rows = await rt.db.select().from(billingOutbox).where(eq(billingOutbox.sandboxId, id));
    expect(rows).toHaveLength(1);
    // The record is serialized once, here, with the team's name.
    expect(JSON.parse(rows[0]!.recordJson!)).toMatchObject({ sandbox_id: id, team: { id: teamId, name: "Outbox team" }, cost_micros: rows[0]!.costMicros!.toString() });
    // Its currency is a column too, so cutting a batch groups the totals without reading the JSON.
    expect(rows[0]!.currency).toBe(JSON.parse(rows[0]!.recordJson!).currency);
  });

  it("batches rows backfilled by the migration (no stored JSON) from their usage records", async () => {
    const teamId = await team("Backfilled team");
    const id = await metered(teamId, 6_000);
    await rt.db.update(billingOutbox).set({ recordJson: null, costMicros: null, currency: null }).where(eq(billingOutbox.sandboxId, id));
    expect(await serializeBackfilledOutboxRows(rt)).toBe(1);
    const [filled] = await rt.db.select().from(billingOutbox).where(eq(billingOutbox.sandboxId, id));
    expect(filled!.currency).toBe("USD");
    const batch = await claimBatch(rt, cfg({ batchSize: 100 }));
    const body = JSON.parse(batch!.body);
    const rec = body.records.find((r: { sandbox_id: string }) => r.sandbox_id === id);
    expect(rec).toMatchObject({ team: { name: "Backfilled team" }, cost_micros: "156", cost: "0.000156" });
    expect(body.record_count).toBe(batch!.recordCount);
    // The database joins the body; it is byte for byte what the JS serializer makes of the same records.
    const again = serializeBatchJson(
      { id: body.batch_id, seq: body.sequence, createdAt: new Date(body.created_at) },
      body.records.map((r: { cost_micros: string }) => ({ json: JSON.stringify(r), costMicros: BigInt(r.cost_micros) })),
    );
    expect(again.text).toBe(batch!.body);
    const [stored] = await rt.db.select().from(finHubBatches).where(eq(finHubBatches.id, batch!.id));
    expect(stored!.bodySha256).toBe(again.sha256);
    expect(stored!.totalMicros).toBe(again.totalMicros);
    // Left pending for the delivery tests below.
  });
});

describe("delivery", () => {
  it("delivers every record exactly once through 500s, a 429, a timeout and a dropped connection after storing", async () => {
    const teams = await Promise.all(["Zürich Ωmega ☃ 東京", 'Quote "q" \\ back\\slash\nnew line\t', "0012345", "=SUM(A1)+1"].map(team));
    for (const [i, t] of teams.entries()) for (let n = 0; n < 6; n++) await metered(t, 1_000 + i * 7_919 + n * 1_013);

    receiver.addFaults(
      { kind: "status", status: 500 },
      { kind: "retry-after", seconds: 2 },
      { kind: "hang", store: true },
      { kind: "store-then-drop" },
      { kind: "status", status: 502 },
      { kind: "store-then-drop" },
    );
    // Six faults in a row all land on the first batch (one lane): it must survive them.
    const rec = await drain(cfg({ attempts: 8 }));

    // fin-hub's total = ledger debits = usage records = exported, to the micro-dollar.
    expect(rec.ledgerDebitMicros).toBe(rec.usage.micros);
    expect(rec.exported.micros).toBe(rec.usage.micros);
    expect(rec.exported.records).toBe(rec.usage.records);
    expect(receiver.totalMicros.toString()).toBe(rec.usage.micros);
    expect(receiver.records).toBe(rec.usage.records);
    expect(BigInt(rec.usage.micros)).toBeGreaterThan(0n);

    // Each record under one batch id; batches that were stored before the failure came back under
    // the same id with the same bytes (duplicates), never as a new batch.
    expect(receiver.stats.recordConflicts).toBe(0);
    expect(receiver.stats.conflicts).toBe(0);
    expect(receiver.stats.duplicates).toBeGreaterThanOrEqual(3);
    expect(receiver.stats.rejectedSignatures).toBe(0);
    const batches = await rt.db.select().from(finHubBatches).orderBy(finHubBatches.seq);
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_, i) => i + 1));
    for (const b of batches) {
      expect(b.status).toBe("sent");
      expect(receiver.batches.get(b.id)?.sha256).toBe(b.bodySha256);
      expect(sha256Hex(b.body)).toBe(b.bodySha256);
    }
    // Nothing left in the outbox; every usage record is in exactly one sent batch.
    expect(await rt.db.select().from(billingOutbox)).toHaveLength(0);
    const ids = batches.flatMap((b) => b.recordIds);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(rec.usage.records);

    // Team names travel intact, whatever their characters.
    const names = new Set([...receiver.batches.values()].flatMap((b) => b.body.records.map((r) => r.team.name)));
    for (const t of teams) {
      const [row] = await rt.db.select({ name: organization.name }).from(organization).where(eq(organization.id, t));
      expect(names.has(row!.name)).toBe(true);
    }
  });

  it("waits at least Retry-After before the next attempt", async () => {
    const teamId = await team("Retry-After team");
    await metered(teamId, 2_000);
    receiver.addFaults({ kind: "retry-after", seconds: 90 });
    const before = clock.now().getTime();
    await runFinHubExport(rt, { cfg: cfg({ backoffBaseMs: 10 }), budgetMs: 5_000 });
    const [b] = await rt.db.select().from(finHubBatches).where(eq(finHubBatches.status, "pending"));
    expect(b!.lastStatus).toBe(429);
    expect(b!.nextAttemptAt.getTime() - before).toBeGreaterThanOrEqual(90_000);
    // Not due yet: a pass sends nothing and cuts no new batch.
    await runFinHubExport(rt, { cfg: cfg({ backoffBaseMs: 10 }), budgetMs: 5_000 });
    expect((await rt.db.select().from(finHubBatches).where(eq(finHubBatches.id, b!.id)))[0]!.attempts).toBe(1);
    clock.advance(90_000);
    await drain(cfg());
    expect((await rt.db.select().from(finHubBatches).where(eq(finHubBatches.id, b!.id)))[0]!.status).toBe("sent");
  });

  it("never puts a record in two batches when several exporters claim at once; seq stays gapless", async () => {
    const teamId = await team("Concurrent team");
    for (let n = 0; n < 15; n++) await metered(teamId, 1_500 + n);
    const c = cfg({ batchSize: 2, concurrency: 3 });
    await Promise.all([runFinHubExport(rt, { cfg: c, budgetMs: 10_000 }), runFinHubExport(rt, { cfg: c, budgetMs: 10_000 }), claimBatch(rt, c)]);
    await drain(c);
    const perRecord = (await rt.db.select().from(finHubBatches).where(sql`${finHubBatches.teamTotals} ? ${teamId}`)).flatMap((b) =>
      b.recordIds.filter((id) => receiver.batches.get(b.id)!.body.records.some((r) => r.record_id === id && r.team.id === teamId)).map((id) => ({ id, batch: b.id })),
    );
    expect(perRecord).toHaveLength(15);
    for (const r of perRecord) expect(receiver.recordBatch.get(r.id)).toBe(r.batch);
    const seqs = (await rt.db.select({ seq: finHubBatches.seq }).from(finHubBatches).orderBy(finHubBatches.seq)).map((s) => s.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(receiver.stats.recordConflicts).toBe(0);
  });
});

describe("claims", () => {
  it("start after the last full batch's records, and still take a record settled late with a lower id", async () => {
    await drain(cfg({ batchSize: 100 }));
    const teamId = await team("Late record team");
    const onTime: string[] = [];
    for (let n = 0; n < 4; n++) onTime.push(await metered(teamId, 1_000 + n));
    const c = cfg({ batchSize: 2 });
    const inBatch = (b: { body: string } | null) => (b ? (JSON.parse(b.body) as { records: { sandbox_id: string }[] }).records.map((r) => r.sandbox_id) : []);
    const first = await claimBatch(rt, c);
    expect(inBatch(first)).toEqual(onTime.slice(0, 2));
    // Settled now, but with a usage record id older than every one above (its clock was behind).
    const now = clock.now();
    clock.set(new Date(now.getTime() - 3_600_000));
    const late = await metered(teamId, 1_000);
    clock.set(now);
    // The next claim starts after the first batch; the one after finds nothing there and starts over.
    expect(inBatch(await claimBatch(rt, c))).toEqual(onTime.slice(2, 4));
    expect(inBatch(await claimBatch(rt, c))).toEqual([late]);
    // An empty claim takes no sequence number (that would be a gap in seq).
    const seqNow = async () => Number(((await rt.db.execute(sql`select last_value from fin_hub_batch_seq`)) as unknown as { rows: { last_value: string }[] }).rows[0]!.last_value);
    const before = await seqNow();
    expect(await claimBatch(rt, c)).toBeNull();
    expect(await seqNow()).toBe(before);
    const rec = await drain(c);
    expect(rec.exported.micros).toBe(rec.ledgerDebitMicros);
    expect(receiver.stats.recordConflicts).toBe(0);
  });
});

describe("dead letter", () => {
  it("dead-letters after the attempts run out, shows the last error, and a console retry delivers it once", async () => {
    const teamId = await team("Dead letter team");
    const other = await team("Someone else");
    await metered(teamId, 3_000);
    await metered(teamId, 4_000);
    const c = cfg({ attempts: 3, backoffBaseMs: 10 });
    receiver.setAlways({ kind: "status", status: 503, body: "fin-hub is down for maintenance" });
    let late: string;
    try {
      await runFinHubExport(rt, { cfg: c, budgetMs: 5_000 });
      // While a batch is failing no new batch is cut: a record settled now waits in the outbox.
      late = await metered(teamId, 5_000);
      for (let i = 0; i < 5; i++) {
        clock.advance(60_000);
        // Still in the outbox: not cut into a batch while another one is failing.
        expect(await rt.db.select().from(billingOutbox).where(eq(billingOutbox.sandboxId, late))).toHaveLength(1);
        await runFinHubExport(rt, { cfg: c, budgetMs: 5_000 });
        if ((await listFinHubBatches(rt, teamId, { status: "dead" })).items.length) break;
      }
    } finally {
      receiver.setAlways(null);
    }
    const dead = await listFinHubBatches(rt, teamId, { status: "dead" });
    expect(dead.items).toHaveLength(1);
    const batch = dead.items[0]!;
    expect(batch.attempts).toBe(3);
    expect(batch.lastStatus).toBe(503);
    expect(batch.lastError).toMatch(/HTTP 503.*fin-hub is down for maintenance.*attempt 3 of 3/);
    expect(batch.teamRecords).toBe(2);
    expect(receiver.batches.has(batch.id)).toBe(false);
    const rec = await finHubReconciliation(rt, teamId);
    expect(rec.dead.micros).toBe(batch.teamCostMicros);
    expect(rec.exported.records).toBe(0);

    // Another team cannot see or touch it.
    expect((await listFinHubBatches(rt, other, { status: "dead" })).items).toHaveLength(0);
    await expect(requeueFinHubBatch(rt, { teamId: other, userId: null }, batch.id, "retry")).rejects.toMatchObject({ code: "NOT_FOUND" });
    // Only a dead batch can be retried; only a sent one re-sent.
    await expect(requeueFinHubBatch(rt, { teamId, userId: "u1" }, batch.id, "resend")).rejects.toMatchObject({ code: "CONFLICT" });

    const [stored] = await rt.db.select().from(finHubBatches).where(eq(finHubBatches.id, batch.id));
    await requeueFinHubBatch(rt, { teamId, userId: "u1" }, batch.id, "retry");
    await drain(c);
    const [after] = await rt.db.select().from(finHubBatches).where(eq(finHubBatches.id, batch.id));
    expect(after!.status).toBe("sent");
    expect(after!.seq).toBe(stored!.seq);
    expect(after!.body).toBe(stored!.body);
    expect(after!.requeuedBy).toBe("u1");
    expect(receiver.batches.get(batch.id)?.deliveries).toBe(1);
    expect(receiver.batches.get(batch.id)?.sha256).toBe(stored!.bodySha256);
    const done = await finHubReconciliation(rt, teamId);
    expect(done.exported.micros).toBe(done.ledgerDebitMicros);

    // A re-send (fin-hub says it lost it) sends the same id and bytes; fin-hub's total is unchanged.
    const totalBefore = receiver.totalMicros;
    await requeueFinHubBatch(rt, { teamId, userId: "u1" }, batch.id, "resend");
    await drain(c);
    expect(receiver.batches.get(batch.id)?.deliveries).toBe(2);
    expect(receiver.totalMicros).toBe(totalBefore);
    expect(receiver.stats.conflicts).toBe(0);
  });

  it("dead-letters at once on a 4xx no retry can fix (a wrong secret)", async () => {
    const teamId = await team("Wrong secret team");
    await metered(teamId, 1_000);
    const c = cfg({ secrets: ["not-the-secret-fin-hub-knows-0123456789"] });
    await runFinHubExport(rt, { cfg: c, budgetMs: 5_000 });
    const dead = await listFinHubBatches(rt, teamId, { status: "dead" });
    expect(dead.items).toHaveLength(1);
    expect(dead.items[0]!.attempts).toBe(1);
    expect(dead.items[0]!.lastError).toMatch(/HTTP 401.*signature_mismatch/);
    // Fixed: retried with the right secret, it goes through.
    await requeueFinHubBatch(rt, { teamId, userId: null }, dead.items[0]!.id, "retry");
    await drain(cfg());
    const rows = await rt.db.select().from(finHubBatches).where(sql`${finHubBatches.teamTotals} ? ${teamId}`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.status === "sent")).toBe(true);
    const rec = await finHubReconciliation(rt, teamId);
    expect(rec.exported.micros).toBe(rec.ledgerDebitMicros);
    expect(rec.unbatched.records + rec.inFlight.records + rec.dead.records).toBe(0);
  });

  it("cuts no new batch while one is dead for a reason later batches would die of too, and goes on after a batch-specific refusal", async () => {
    const teamId = await team("Paused export team");
    const unbatched = async () => (await finHubReconciliation(rt, teamId)).unbatched.records;
    await metered(teamId, 1_000);
    await runFinHubExport(rt, { cfg: cfg({ secrets: ["not-the-secret-fin-hub-knows-0123456789"] }), budgetMs: 5_000 });
    const [dead] = (await listFinHubBatches(rt, teamId, { status: "dead" })).items;
    expect(dead?.lastStatus).toBe(401);
    // Records settled after it wait in the outbox, pass after pass, instead of dying in new batches.
    await metered(teamId, 2_000);
    await metered(teamId, 3_000);
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      await runFinHubExport(rt, { cfg: cfg(), budgetMs: 5_000 });
      expect(await unbatched()).toBe(2);
      expect((await listFinHubBatches(rt, teamId)).items).toHaveLength(1);
    }
    // Requeued once fixed: it goes through, then the waiting records follow.
    await requeueFinHubBatch(rt, { teamId, userId: null }, dead!.id, "retry");
    const rec = await drain(cfg());
    expect(rec.dead.records).toBe(0);
    expect((await finHubReconciliation(rt, teamId)).exported.micros).toBe((await finHubReconciliation(rt, teamId)).ledgerDebitMicros);

    // fin-hub refusing one batch's content (422) does not hold up the records after it.
    await metered(teamId, 4_000);
    receiver.addFaults({ kind: "status", status: 422, body: "record 3 has no profile" });
    await runFinHubExport(rt, { cfg: cfg(), budgetMs: 5_000 });
    const refused = (await listFinHubBatches(rt, teamId, { status: "dead" })).items;
    expect(refused.map((b) => b.lastStatus)).toEqual([422]);
    await metered(teamId, 5_000);
    await runFinHubExport(rt, { cfg: cfg(), budgetMs: 5_000 });
    expect(await unbatched()).toBe(0);
    expect((await finHubReconciliation(rt, teamId)).dead.records).toBe(1);
    // Leave nothing dead for the tests after this one.
    await requeueFinHubBatch(rt, { teamId, userId: null }, refused[0]!.id, "retry");
    await drain(cfg());
  });
});
