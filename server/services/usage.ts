import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { creditLedger, usageDaily, usageRecords } from "../../db/schema";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import { formatTime } from "../../lib/format";

export type UsageFilter = { from?: Date; to?: Date; extension?: string; profile?: string; cursor?: string; limit?: number };

export function usageConditions(teamId: string, f: UsageFilter): SQL[] {
  const c: SQL[] = [eq(usageRecords.teamId, teamId)];
  if (f.from) c.push(gte(usageRecords.endedAt, f.from));
  if (f.to) c.push(lt(usageRecords.endedAt, f.to));
  if (f.extension) c.push(eq(usageRecords.extensionId, f.extension));
  if (f.profile) c.push(eq(usageRecords.profileId, f.profile.startsWith("profile.") ? f.profile : `profile.${f.profile}`));
  return c;
}

const DAY_MS = 86_400_000;
const dayString = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Count, cost and duration of the records matching the filter, exactly. Whole UTC days inside
 * the range are read from the usage_daily rollup (one row per day, extension and profile); only
 * the partial days at either edge are summed from the records themselves, so the cost does not
 * grow with the number of records in the range.
 */
export async function usageTotals(rt: Runtime, teamId: string, f: Pick<UsageFilter, "from" | "to" | "extension" | "profile">) {
  const lo = f.from?.getTime() ?? null;
  const hi = f.to?.getTime() ?? null;
  // Whole days: [firstDay, endDay) in ms; null means unbounded on that side.
  const firstDay = lo === null ? null : Math.ceil(lo / DAY_MS) * DAY_MS;
  const endDay = hi === null ? null : Math.floor(hi / DAY_MS) * DAY_MS;
  const wholeDays = firstDay === null || endDay === null || firstDay < endDay;

  const raw = async (from: Date | undefined, to: Date | undefined) => {
    const [t] = await rt.db
      .select({
        count: sql<string>`count(*)::text`,
        costMicros: sql<string>`coalesce(sum(${usageRecords.costMicros}), 0)::text`,
        durationMs: sql<string>`coalesce(sum(${usageRecords.durationMs}), 0)::text`,
      })
      .from(usageRecords)
      .where(and(...usageConditions(teamId, { ...f, from, to })));
    return t!;
  };
  if (!wholeDays) {
    const t = await raw(f.from, f.to);
    return { count: Number(t.count), costMicros: t.costMicros, durationMs: t.durationMs };
  }

  const daily: SQL[] = [eq(usageDaily.teamId, teamId)];
  if (firstDay !== null) daily.push(gte(usageDaily.day, dayString(firstDay)));
  if (endDay !== null) daily.push(lt(usageDaily.day, dayString(endDay)));
  if (f.extension) daily.push(eq(usageDaily.extensionId, f.extension));
  if (f.profile) daily.push(eq(usageDaily.profileId, f.profile.startsWith("profile.") ? f.profile : `profile.${f.profile}`));
  const parts = await Promise.all([
    rt.db
      .select({
        count: sql<string>`coalesce(sum(${usageDaily.records}), 0)::text`,
        costMicros: sql<string>`coalesce(sum(${usageDaily.costMicros}), 0)::text`,
        durationMs: sql<string>`coalesce(sum(${usageDaily.durationMs}), 0)::text`,
      })
      .from(usageDaily)
      .where(and(...daily))
      .then((r) => r[0]!),
    firstDay !== null && lo !== firstDay ? raw(f.from, new Date(firstDay)) : null,
    endDay !== null && hi !== endDay ? raw(new Date(endDay), f.to) : null,
  ]);
  let count = 0n;
  let cost = 0n;
  let duration = 0n;
  for (const p of parts) {
    if (!p) continue;
    count += BigInt(p.count);
    cost += BigInt(p.costMicros);
    duration += BigInt(p.durationMs);
  }
  return { count: Number(count), costMicros: cost.toString(), durationMs: duration.toString() };
}

/** Usage records, newest first, with the total over the whole filter (not just the page). */
export async function listUsage(rt: Runtime, teamId: string, f: UsageFilter) {
  if (f.from && f.to && f.to < f.from)
    throw new AppError("INVALID_INPUT", `the end ${formatTime(f.to)} is before the start ${formatTime(f.from)}`, { field: "to" });
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const conditions = usageConditions(teamId, f);
  const pageConditions = f.cursor ? [...conditions, lt(usageRecords.id, f.cursor)] : conditions;
  const rows = await rt.db
    .select()
    .from(usageRecords)
    .where(and(...pageConditions))
    .orderBy(desc(usageRecords.id))
    .limit(limit + 1);
  const totals = await usageTotals(rt, teamId, f);
  const page = rows.slice(0, limit);
  return {
    items: page.map((u) => ({
      id: u.id,
      sandboxId: u.sandboxId,
      extensionId: u.extensionId,
      profileId: u.profileId,
      startedAt: u.startedAt.toISOString(),
      endedAt: u.endedAt.toISOString(),
      durationMs: u.durationMs,
      resources: u.resources,
      rateCardVersion: u.rateCardVersion,
      currency: u.currency,
      costMicros: u.costMicros.toString(),
      credentialSource: u.credentialSource,
      endReason: u.endReason,
    })),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    totals,
  };
}

export async function listLedger(rt: Runtime, teamId: string, opts: { cursor?: string; limit?: number }) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const conditions = [eq(creditLedger.teamId, teamId)];
  if (opts.cursor) conditions.push(lt(creditLedger.id, opts.cursor));
  const rows = await rt.db.select().from(creditLedger).where(and(...conditions)).orderBy(desc(creditLedger.id)).limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((l) => ({
      id: l.id,
      kind: l.kind,
      amountMicros: l.amountMicros.toString(),
      sandboxId: l.sandboxId,
      note: l.note,
      createdAt: l.createdAt.toISOString(),
    })),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}
