import { and, eq, gte, lte, sql } from "drizzle-orm";
import { usageDaily } from "../../db/schema";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";

const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 366;

type Bucket = { costMicros: bigint; durationMs: number; count: number };
const empty = (): Bucket => ({ costMicros: 0n, durationMs: 0, count: 0 });
const view = (b: Bucket) => ({
  costMicros: b.costMicros.toString(),
  durationMs: b.durationMs,
  count: b.count,
});

/** The earliest and latest day a range may name (the database's date type holds far more). */
export const MIN_DAY = "1970-01-01";
export const MAX_DAY = "9999-12-31";
export const DAY_FORMAT_MESSAGE = "must be a date such as 2026-12-01";

function parseDay(value: unknown, field: "from" | "to"): Date {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value))
    throw new AppError("INVALID_INPUT", DAY_FORMAT_MESSAGE, { field });
  const d = new Date(`${value}T00:00:00.000Z`);
  // Date rolls 2026-02-30 over to March 2; only a day that reads back the same is a real one.
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value)
    throw new AppError("INVALID_INPUT", `${value} is not a calendar date`, { field });
  if (value < MIN_DAY || value > MAX_DAY)
    throw new AppError("INVALID_INPUT", `must be between ${MIN_DAY} and ${MAX_DAY}`, { field });
  return d;
}

/**
 * Cost and sandbox-hours over [from, to] (whole UTC days, both inclusive), by day, extension
 * and profile. Reads the usage_daily rollup (at most one row per day, extension and profile,
 * kept equal to the GROUP BY of usage_records by triggers; db/migrations/0007_usage_daily.sql),
 * so the cost does not grow with the number of records. Sums stay exact (bigint).
 */
export async function usageSummary(
  rt: Runtime,
  teamId: string,
  input: { from: string; to: string },
) {
  const from = parseDay(input.from, "from");
  const to = parseDay(input.to, "to");
  if (to < from)
    throw new AppError(
      "INVALID_INPUT",
      `the end date ${input.to} is before the start date ${input.from}`,
      { field: "to" },
    );
  const days = Math.round((to.getTime() - from.getTime()) / DAY_MS) + 1;
  if (days > MAX_RANGE_DAYS)
    throw new AppError("INVALID_INPUT", `choose a range of at most ${MAX_RANGE_DAYS} days`, {
      field: "from",
    });

  // bigint columns come back as text here, so nothing passes through a float.
  const rows = await rt.db
    .select({
      day: sql<string>`to_char(${usageDaily.day}, 'YYYY-MM-DD')`,
      extensionId: usageDaily.extensionId,
      profileId: usageDaily.profileId,
      count: sql<string>`${usageDaily.records}::text`,
      costMicros: sql<string>`${usageDaily.costMicros}::text`,
      durationMs: sql<string>`${usageDaily.durationMs}::text`,
    })
    .from(usageDaily)
    .where(
      and(
        eq(usageDaily.teamId, teamId),
        gte(usageDaily.day, input.from),
        lte(usageDaily.day, input.to),
      ),
    );

  return summarizeRows(input, from, days, rows);
}

export type SummaryRow = {
  day: string;
  extensionId: string;
  profileId: string;
  count: string;
  costMicros: string;
  durationMs: string;
};

/**
 * Buckets (day, extension, profile) sums into the summary: every day of the range (empty ones
 * too), and extensions and profiles by cost, dearest first. Exported so a test can feed it a
 * GROUP BY of the raw records and compare.
 */
export function summarizeRows(
  input: { from: string; to: string },
  from: Date,
  days: number,
  rows: SummaryRow[],
) {
  const byDay = new Map<string, Bucket>();
  for (let i = 0; i < days; i++)
    byDay.set(new Date(from.getTime() + i * DAY_MS).toISOString().slice(0, 10), empty());
  const byExtension = new Map<string, Bucket>();
  const byProfile = new Map<string, Bucket>();
  const total = empty();
  for (const r of rows) {
    const add = (b: Bucket) => {
      b.costMicros += BigInt(r.costMicros);
      b.durationMs += Number(r.durationMs);
      b.count += Number(r.count);
    };
    add(total);
    for (const [map, key] of [
      [byDay, r.day],
      [byExtension, r.extensionId],
      [byProfile, r.profileId],
    ] as const) {
      let b = map.get(key);
      if (!b) map.set(key, (b = empty()));
      add(b);
    }
  }
  const sorted = (m: Map<string, Bucket>) =>
    [...m.entries()].sort((a, b) =>
      a[1].costMicros < b[1].costMicros
        ? 1
        : a[1].costMicros > b[1].costMicros
          ? -1
          : a[0].localeCompare(b[0]),
    );
  return {
    from: input.from,
    to: input.to,
    totals: view(total),
    byDay: [...byDay.entries()].map(([d, b]) => ({ day: d, ...view(b) })),
    byExtension: sorted(byExtension).map(([extensionId, b]) => ({ extensionId, ...view(b) })),
    byProfile: sorted(byProfile).map(([profileId, b]) => ({ profileId, ...view(b) })),
  };
}
