/**
 * listUsage's totals read whole UTC days from the usage_daily rollup and sum only the partial
 * days at the edges from the records: they must equal a plain sum over the records for any
 * range — unbounded, midnight-aligned, within one day, reversed — and any filter.
 */
import { and } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageRecords } from "../../db/schema";
import { usageRecordRow } from "../testing/fixtures";
import { createTestRuntime, openTestDb, seedTeam, type TestRuntime } from "../testing/harness";
import { listUsage, usageConditions, usageTotals, type UsageFilter } from "./usage";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let teamId: string;
let otherTeam: string;
const DAY = 86_400_000;
const BASE = Date.parse("2026-11-20T00:00:00.000Z");

// A small deterministic generator, so a failure can be replayed.
let seed = 20261203;
const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
  teamId = await seedTeam(rt, 0n, "totals");
  otherTeam = await seedTeam(rt, 0n, "other");
  const rows: (typeof usageRecords.$inferInsert)[] = [];
  for (let n = 0; n < 400; n++) {
    // Ends spread over 10 days, some exactly at midnight or a millisecond either side of it.
    const day = Math.floor(rand() * 10);
    const edge = n % 10 === 0 ? 0 : n % 10 === 1 ? -1 : n % 10 === 2 ? 1 : Math.floor(rand() * DAY);
    const endedAt = new Date(BASE + day * DAY + edge);
    const durationMs = 1 + Math.floor(rand() * 3_600_000);
    rows.push(
      usageRecordRow({
        teamId: n % 7 === 0 ? otherTeam : teamId,
        key: `t${n}`,
        endedAt,
        extensionId: n % 3 === 0 ? "ext.e2b" : "ext.saas-stub",
        profileId: n % 2 === 0 ? "profile.burst-sandbox" : "profile.e2b-burst",
        // Past 2^53 in total, so a float anywhere would show.
        costMicros: 1_000_000_000_000_000n + BigInt(Math.floor(rand() * 1e9)),
        durationMs,
      }),
    );
  }
  await rt.db.insert(usageRecords).values(rows);
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

/** The oracle: every record of the team and filter, summed in JS. */
async function plainSum(f: UsageFilter) {
  const rows = await rt.db
    .select()
    .from(usageRecords)
    .where(and(...usageConditions(teamId, f)));
  return {
    count: rows.length,
    costMicros: rows.reduce((t, r) => t + r.costMicros, 0n).toString(),
    durationMs: rows.reduce((t, r) => t + BigInt(r.durationMs), 0n).toString(),
  };
}

describe("usage totals from the rollup plus the edges", () => {
  it("equal a plain sum of the records for every kind of range and filter", async () => {
    const at = (ms: number) => new Date(ms);
    const ranges: { from?: Date; to?: Date }[] = [
      {},
      { from: at(BASE + 3 * DAY) },
      { to: at(BASE + 6 * DAY + 1) },
      { from: at(BASE + 2 * DAY), to: at(BASE + 5 * DAY) }, // both at midnight
      { from: at(BASE + 2 * DAY - 1), to: at(BASE + 5 * DAY + 1) }, // a millisecond beyond each
      { from: at(BASE + 2 * DAY + 1), to: at(BASE + 2 * DAY + DAY - 1) }, // inside one day
      { from: at(BASE + 4 * DAY + 5), to: at(BASE + 5 * DAY + 7) }, // across one midnight, no whole day
      { from: at(BASE + 6 * DAY), to: at(BASE + 3 * DAY) }, // reversed: nothing
      { from: at(BASE + 3 * DAY), to: at(BASE + 3 * DAY) }, // empty
    ];
    for (let i = 0; i < 25; i++) {
      const a = BASE - DAY + Math.floor(rand() * 12 * DAY);
      const b = a + Math.floor(rand() * 6 * DAY);
      ranges.push({ from: at(a), to: at(b) });
    }
    const filters: Pick<UsageFilter, "extension" | "profile">[] = [
      {},
      { extension: "ext.e2b" },
      { profile: "e2b-burst" },
      { extension: "ext.saas-stub", profile: "profile.burst-sandbox" },
    ];
    let nonEmpty = 0;
    for (const r of ranges)
      for (const f of filters) {
        const want = await plainSum({ ...r, ...f });
        if (want.count > 0) nonEmpty++;
        expect(
          await usageTotals(rt, teamId, { ...r, ...f }),
          JSON.stringify({ ...r, ...f }),
        ).toEqual(want);
      }
    expect(nonEmpty).toBeGreaterThan(ranges.length); // the cases are not all trivially empty
  });

  it("are what listUsage returns with its page", async () => {
    const f = { from: new Date(BASE + DAY + 123), to: new Date(BASE + 8 * DAY - 456), limit: 5 };
    const page = await listUsage(rt, teamId, f);
    expect(page.items).toHaveLength(5);
    expect(page.totals).toEqual(await plainSum(f));
    // Another team's records are never counted.
    expect((await usageTotals(rt, otherTeam, {})).count).toBe(400 - (await plainSum({})).count);
  });
});
