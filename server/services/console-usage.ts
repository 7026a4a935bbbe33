import { and, eq, gte, lt, sql } from "drizzle-orm";
import { usageRecords } from "../../db/schema";
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

function parseDay(value: string, field: string): Date {
  const d = new Date(`${value}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime())) {
    throw new AppError("INVALID_INPUT", "must be a date such as 2026-12-01", { field });
  }
  return d;
}

/**
 * Cost and sandbox-hours over [from, to] (whole UTC days, both inclusive), by day, extension
 * and profile. One GROUP BY over the (team_id, ended_at) index; sums stay exact (bigint).
 */
export async function usageSummary(
  rt: Runtime,
  teamId: string,
  input: { from: string; to: string },
) {
  const from = parseDay(input.from, "from");
  const to = parseDay(input.to, "to");
  if (to < from)
    throw new AppError("INVALID_INPUT", "the end date is before the start date", { field: "to" });
  const days = Math.round((to.getTime() - from.getTime()) / DAY_MS) + 1;
  if (days > MAX_RANGE_DAYS)
    throw new AppError("INVALID_INPUT", `choose a range of at most ${MAX_RANGE_DAYS} days`, {
      field: "from",
    });
  const end = new Date(to.getTime() + DAY_MS);

  // Grouped as a date (cheap per row); to_char runs once per group, not once per record.
  const dayDate = sql`((${usageRecords.endedAt} at time zone 'UTC')::date)`;
  const day = sql<string>`to_char(${dayDate}, 'YYYY-MM-DD')`;
  const rows = await rt.db
    .select({
      day,
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
        gte(usageRecords.endedAt, from),
        lt(usageRecords.endedAt, end),
      ),
    )
    .groupBy(dayDate, usageRecords.extensionId, usageRecords.profileId);

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
