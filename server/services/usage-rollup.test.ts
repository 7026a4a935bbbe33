/**
 * The usage_daily rollup (db/migrations/0007_usage_daily.sql) against a fresh GROUP BY of
 * usage_records: after settles through the real services, under concurrent settles of one key,
 * after the migration's backfill of records that predate it, and after updates, deletes and a
 * team's deletion. usageSummary (which reads the rollup) is compared with the raw GROUP BY it
 * replaced.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDb, migrationsFolder } from "../../db/client";
import { organization, usageDaily, usageRecords } from "../../db/schema";
import { configDirWith, usageRecordRow } from "../testing/fixtures";
import {
  createTestRuntime,
  openTestDb,
  seedTeam,
  TestClock,
  type TestRuntime,
} from "../testing/harness";
import { summarizeRows, usageSummary } from "./console-usage";
import { provisionSandbox, teardownSandbox } from "./lifecycle";
import { createSandbox } from "./sandboxes";

const stubExt = (id: string, vcpu: string, gib: string) => `id: ${id}
name: ${id}
adapter: saas-stub
pricing: { currency: USD, rate_card_version: ${id}-1, vcpu_second: "${vcpu}", gib_second: "${gib}" }
limits: { max_ttl_seconds: 7200, max_concurrent: 1000, creates_per_second: 100000 }
`;
const profile = (id: string, vcpu: number, mib: number, route: string) => `id: ${id}
name: ${id}
pricing_model: metered
resources: { vcpu: ${vcpu}, memory_mib: ${mib} }
template: base
ttl: { default_seconds: 60, max_seconds: 7200 }
route: [${route}]
`;
const configDir = configDirWith({
  "extensions/alpha.yaml": stubExt("ext.alpha", "0.000013", "0.0000037"),
  "extensions/beta.yaml": stubExt("ext.beta", "0.000007", "0.0000011"),
  "one.yaml": profile("profile.one", 2, 512, "ext.alpha"),
  "two.yaml": profile("profile.two", 4, 1024, "ext.beta"),
  "three.yaml": profile("profile.three", 1, 256, "ext.alpha"),
});
const PROFILES = ["one", "two", "three"] as const;

type Db = TestRuntime["db"];
/** Rows of one statement (node-postgres and PGlite both answer `{ rows }`). */
const rowsOf = async (db: Db, query: SQL) =>
  ((await db.execute(query)) as unknown as { rows: Record<string, string | number>[] }).rows;

/** The rollup's rows and the GROUP BY of usage_records they must equal, as comparable text. */
async function rollupAndGroupBy(db: Db) {
  const rollup = await rowsOf(
    db,
    sql`
    select team_id, to_char(day, 'YYYY-MM-DD') as day, extension_id, profile_id,
           records::text as records, cost_micros::text as cost, duration_ms::text as duration
    from usage_daily order by 1, 2, 3, 4`,
  );
  const fresh = await rowsOf(
    db,
    sql`
    select team_id, to_char((ended_at at time zone 'UTC')::date, 'YYYY-MM-DD') as day, extension_id, profile_id,
           count(*)::text as records, sum(cost_micros)::text as cost, sum(duration_ms)::text as duration
    from usage_records group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
  );
  return { rollup, fresh };
}

async function expectRollupInStep(db: Db) {
  const { rollup, fresh } = await rollupAndGroupBy(db);
  expect(rollup).toEqual(fresh);
  return fresh;
}

/** The summary as it was computed before the rollup: one GROUP BY over usage_records. */
async function summaryFromRecords(rt: TestRuntime, teamId: string, from: string, to: string) {
  const DAY_MS = 86_400_000;
  const start = new Date(`${from}T00:00:00.000Z`);
  const end = new Date(new Date(`${to}T00:00:00.000Z`).getTime() + DAY_MS);
  const dayDate = sql`((${usageRecords.endedAt} at time zone 'UTC')::date)`;
  const rows = await rt.db
    .select({
      day: sql<string>`to_char(${dayDate}, 'YYYY-MM-DD')`,
      extensionId: usageRecords.extensionId,
      profileId: usageRecords.profileId,
      count: sql<string>`count(*)`,
      costMicros: sql<string>`coalesce(sum(${usageRecords.costMicros}), 0)`,
      durationMs: sql<string>`coalesce(sum(${usageRecords.durationMs}), 0)`,
    })
    .from(usageRecords)
    .where(
      and(
        eq(usageRecords.teamId, teamId),
        gte(usageRecords.endedAt, start),
        lt(usageRecords.endedAt, end),
      ),
    )
    .groupBy(dayDate, usageRecords.extensionId, usageRecords.profileId);
  // The SQL is what this compares; the bucketing into days, extensions and profiles is shared.
  return summarizeRows({ from, to }, start, Math.round((end.getTime() - start.getTime()) / DAY_MS), rows);
}

const first = { attempt: 1, isLastAttempt: false };
const at = (iso: string) => new Date(iso);

describe("usage_daily after settles through the services", () => {
  let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
  let rt: TestRuntime;
  const clock = new TestClock(at("2026-12-01T23:50:00.000Z"));
  beforeAll(async () => {
    dbHandle = await openTestDb();
    rt = await createTestRuntime(dbHandle, { clock, configDir });
  });
  afterAll(async () => {
    await rt?.cleanup();
    await dbHandle?.drop();
  });

  async function started(teamId: string, profileName: string, n: number) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const created = await createSandbox(
        rt,
        { teamId, userId: null },
        { profile: profileName, ttlSeconds: 3600 },
      );
      await provisionSandbox(rt, created.id, first);
      ids.push(created.id);
    }
    return ids;
  }

  const teams: string[] = [];

  it("equals a fresh GROUP BY after many settles: same key many times, several teams, across a UTC midnight", async () => {
    for (let t = 0; t < 3; t++) teams.push(await seedTeam(rt, 10n ** 12n, `Team ${t}`));
    // Every team starts 4 sandboxes of each profile at 23:50 on Dec 1 …
    clock.set(at("2026-12-01T23:50:00.000Z"));
    const waves: string[][] = [[], [], [], []];
    for (const teamId of teams)
      for (const p of PROFILES) {
        const ids = await started(teamId, p, 4);
        ids.forEach((id, i) => waves[i]!.push(id));
      }
    // … and they end in four waves, two before midnight and two after (one exactly at it), each
    // wave settling many sandboxes with the same team, day, extension and profile at once.
    const ends = [
      "2026-12-01T23:55:00.000Z",
      "2026-12-01T23:59:59.999Z",
      "2026-12-02T00:00:00.000Z",
      "2026-12-02T00:07:30.000Z",
    ];
    for (const [i, wave] of waves.entries()) {
      clock.set(at(ends[i]!));
      await Promise.all(wave.map((id) => teardownSandbox(rt, id, "requested")));
    }

    const fresh = await expectRollupInStep(rt.db);
    expect(fresh.map((r) => r.day)).toContain("2026-12-01");
    expect(fresh.map((r) => r.day)).toContain("2026-12-02");
    // 3 teams × 3 profiles × 2 days, each key hit twice.
    expect(fresh).toHaveLength(18);
    expect(fresh.every((r) => r.records === "2")).toBe(true);
    expect(await rowsOf(rt.db, sql`select count(*)::text as n from usage_records`)).toEqual([
      { n: "36" },
    ]);
  });

  it("gives usageSummary the same answer as the raw GROUP BY, including empty days and one-day ranges", async () => {
    for (const teamId of teams)
      for (const [from, to] of [
        ["2026-12-01", "2026-12-02"],
        ["2026-12-01", "2026-12-01"],
        ["2026-12-02", "2026-12-02"],
        ["2026-11-20", "2026-12-10"],
        ["2026-12-03", "2026-12-31"],
      ] as const) {
        const s = await usageSummary(rt, teamId, { from, to });
        expect(s).toEqual(await summaryFromRecords(rt, teamId, from, to));
      }
    const s = await usageSummary(rt, teams[0]!, { from: "2026-11-30", to: "2026-12-03" });
    expect(s.byDay.map((d) => [d.day, d.count])).toEqual([
      ["2026-11-30", 0],
      ["2026-12-01", 6],
      ["2026-12-02", 6],
      ["2026-12-03", 0],
    ]);
    expect(s.byProfile.map((p) => p.profileId).sort()).toEqual([
      "profile.one",
      "profile.three",
      "profile.two",
    ]);
  });

  it("loses no update when many settles of the same key commit concurrently", async () => {
    const teamId = await seedTeam(rt, 10n ** 12n, "Concurrent");
    clock.set(at("2026-12-05T10:00:00.000Z"));
    const ids = [...(await started(teamId, "one", 25)), ...(await started(teamId, "two", 15))];
    clock.set(at("2026-12-05T10:20:00.000Z"));
    // On Postgres these run on separate pooled connections and contend for two rollup rows.
    await Promise.all(ids.map((id) => teardownSandbox(rt, id, "requested")));
    await expectRollupInStep(rt.db);
    const rows = await rt.db.select().from(usageDaily).where(eq(usageDaily.teamId, teamId));
    expect(rows.map((r) => [r.profileId, r.records]).sort()).toEqual([
      ["profile.one", 25],
      ["profile.two", 15],
    ]);
    const s = await usageSummary(rt, teamId, { from: "2026-12-05", to: "2026-12-05" });
    expect(s).toEqual(await summaryFromRecords(rt, teamId, "2026-12-05", "2026-12-05"));
    expect(s.totals.count).toBe(40);
  });

  it("stays in step through updates, deletes, a team's deletion and a truncate", async () => {
    const [a, b, c] = teams as [string, string, string];
    // Moved to another day, to another extension, and a changed cost.
    await rt.db.execute(
      sql`update usage_records set ended_at = ended_at + interval '3 days' where team_id = ${a} and profile_id = 'profile.one'`,
    );
    await rt.db.execute(
      sql`update usage_records set extension_id = 'ext.other', cost_micros = cost_micros * 1000000007 where team_id = ${b} and profile_id = 'profile.two'`,
    );
    await expectRollupInStep(rt.db);
    // A delete that empties a key removes its row; one that does not leaves the rest.
    await rt.db.execute(
      sql`delete from usage_records where team_id = ${a} and profile_id = 'profile.three'`,
    );
    await rt.db.execute(
      sql`delete from usage_records where id = (select min(id) from usage_records where team_id = ${b} and profile_id = 'profile.one')`,
    );
    await expectRollupInStep(rt.db);
    expect(
      await rt.db
        .select()
        .from(usageDaily)
        .where(and(eq(usageDaily.teamId, a), eq(usageDaily.profileId, "profile.three"))),
    ).toEqual([]);
    // Deleting a team cascades to its usage records, and so to its rollup rows.
    await rt.db.delete(organization).where(eq(organization.id, c));
    await expectRollupInStep(rt.db);
    expect(await rt.db.select().from(usageDaily).where(eq(usageDaily.teamId, c))).toEqual([]);
    await rt.db.execute(sql`truncate usage_records cascade`);
    expect(await rt.db.select().from(usageDaily)).toEqual([]);
  });
});

describe("the migration's backfill", () => {
  let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
  let rt: TestRuntime;
  let older: string;
  beforeAll(async () => {
    // A copy of db/migrations that stops before 0007_usage_daily.
    older = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-migrations-"));
    fs.cpSync(migrationsFolder(), older, { recursive: true });
    const journalPath = path.join(older, "meta", "_journal.json");
    const journal = JSON.parse(fs.readFileSync(journalPath, "utf8")) as {
      entries: { tag: string }[];
    };
    const cut = journal.entries.findIndex((e) => e.tag === "0007_usage_daily");
    expect(cut).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, cut);
    fs.writeFileSync(journalPath, JSON.stringify(journal));
    dbHandle = await openTestDb({ migrationsFolder: older });
    rt = await createTestRuntime(dbHandle);
  });
  afterAll(async () => {
    await rt?.cleanup();
    await dbHandle?.drop();
    fs.rmSync(older, { recursive: true, force: true });
  });

  const record = (teamId: string, n: number, endedAt: string, extensionId: string, profileId: string, costMicros: bigint, durationMs: number) =>
    usageRecordRow({ teamId, key: n, endedAt, extensionId, profileId, costMicros, durationMs });

  it("rolls up the records that existed before it, exactly, and the trigger takes over after", async () => {
    const before = await rowsOf(
      rt.db,
      sql`select count(*)::int as n from information_schema.tables where table_name = 'usage_daily'`,
    );
    expect(before).toEqual([{ n: 0 }]);
    const a = await seedTeam(rt, 0n, "A");
    const b = await seedTeam(rt, 0n, "B");
    const rows: (typeof usageRecords.$inferInsert)[] = [];
    const exts = ["ext.saas-stub", "ext.e2b", "ext.modal"];
    const profiles = ["profile.burst-sandbox", "profile.e2b-burst"];
    for (let i = 0; i < 300; i++) {
      // Ends every 7 minutes from 2026-11-30T20:00Z: across two UTC midnights.
      const endedAt = new Date(Date.parse("2026-11-30T20:00:00.000Z") + i * 7 * 60_000);
      rows.push(
        record(
          i % 4 === 0 ? b : a,
          i,
          endedAt.toISOString(),
          exts[i % 3]!,
          profiles[i % 2]!,
          // Sums past 2^53 must stay exact.
          i % 50 === 0 ? 9_007_199_254_740_993n : BigInt(7_800 + (i % 13)),
          300_000 + i,
        ),
      );
    }
    await rt.db.insert(usageRecords).values(rows);

    await migrateDb(dbHandle);
    const fresh = await expectRollupInStep(rt.db);
    expect(new Set(fresh.map((r) => r.day))).toEqual(
      new Set(["2026-11-30", "2026-12-01", "2026-12-02"]),
    );
    for (const teamId of [a, b])
      expect(await usageSummary(rt, teamId, { from: "2026-11-29", to: "2026-12-03" })).toEqual(
        await summaryFromRecords(rt, teamId, "2026-11-29", "2026-12-03"),
      );

    await rt.db
      .insert(usageRecords)
      .values([
        record(a, 1000, "2026-12-01T00:00:00.000Z", "ext.e2b", "profile.e2b-burst", 5n, 1),
        record(b, 1001, "2026-12-09T12:00:00.000Z", "ext.e2b", "profile.e2b-burst", 7n, 2),
      ]);
    await expectRollupInStep(rt.db);
  });
});
