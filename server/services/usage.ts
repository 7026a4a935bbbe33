import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { creditLedger, usageRecords } from "../../db/schema";
import type { Runtime } from "../runtime";

export type UsageFilter = { from?: Date; to?: Date; extension?: string; profile?: string; cursor?: string; limit?: number };

export function usageConditions(teamId: string, f: UsageFilter): SQL[] {
  const c: SQL[] = [eq(usageRecords.teamId, teamId)];
  if (f.from) c.push(gte(usageRecords.endedAt, f.from));
  if (f.to) c.push(lt(usageRecords.endedAt, f.to));
  if (f.extension) c.push(eq(usageRecords.extensionId, f.extension));
  if (f.profile) c.push(eq(usageRecords.profileId, f.profile.startsWith("profile.") ? f.profile : `profile.${f.profile}`));
  return c;
}

/** Usage records, newest first, with the total over the whole filter (not just the page). */
export async function listUsage(rt: Runtime, teamId: string, f: UsageFilter) {
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const conditions = usageConditions(teamId, f);
  const pageConditions = f.cursor ? [...conditions, lt(usageRecords.id, f.cursor)] : conditions;
  const rows = await rt.db
    .select()
    .from(usageRecords)
    .where(and(...pageConditions))
    .orderBy(desc(usageRecords.id))
    .limit(limit + 1);
  const [totals] = await rt.db
    .select({
      count: sql<string>`count(*)`,
      costMicros: sql<string>`coalesce(sum(${usageRecords.costMicros}), 0)`,
      durationMs: sql<string>`coalesce(sum(${usageRecords.durationMs}), 0)`,
    })
    .from(usageRecords)
    .where(and(...conditions));
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
    totals: { count: Number(totals?.count ?? 0), costMicros: String(totals?.costMicros ?? "0"), durationMs: String(totals?.durationMs ?? "0") },
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
