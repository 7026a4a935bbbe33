import { and, desc, eq, lt, sql } from "drizzle-orm";
import { findingKinds, reconcilerFindings } from "../../db/schema";
import type { Runtime } from "../runtime";

export type FindingKind = (typeof findingKinds)[number];
export type FindingsFilter = { kind?: FindingKind; extensionId?: string; cursor?: string; limit?: number };

/**
 * What the reconciler found on the providers and did about it, for one team: orphans it killed
 * (with how long they had run) and sandboxes it marked lost. Newest first; `cursor` is the last
 * id of the previous page (finding ids sort by time). Findings with no team (a failed listing,
 * a provider sandbox no team's tag) are the platform's, not shown here.
 */
export async function listReconcilerFindings(rt: Pick<Runtime, "db">, teamId: string, filter: FindingsFilter = {}) {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  const mine = eq(reconcilerFindings.teamId, teamId);
  const conditions = [mine];
  if (filter.kind) conditions.push(eq(reconcilerFindings.kind, filter.kind));
  if (filter.extensionId) conditions.push(eq(reconcilerFindings.extensionId, filter.extensionId));
  if (filter.cursor) conditions.push(lt(reconcilerFindings.id, filter.cursor));
  const rows = await rt.db
    .select()
    .from(reconcilerFindings)
    .where(and(...conditions))
    .orderBy(desc(reconcilerFindings.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const totals = await rt.db
    .select({ kind: reconcilerFindings.kind, n: sql<number>`count(*)::int`, last: sql<Date | string | null>`max(${reconcilerFindings.at})` })
    .from(reconcilerFindings)
    .where(mine)
    .groupBy(reconcilerFindings.kind);
  const summary = Object.fromEntries(findingKinds.map((k) => [k, 0])) as Record<FindingKind, number>;
  let lastAt: string | null = null;
  for (const t of totals) {
    summary[t.kind] = Number(t.n);
    const last = t.last ? new Date(t.last).toISOString() : null;
    if (last && (!lastAt || last > lastAt)) lastAt = last;
  }
  return {
    items: page.map((f) => ({
      id: f.id,
      at: f.at.toISOString(),
      extensionId: f.extensionId,
      kind: f.kind,
      sandboxId: f.sandboxId,
      providerSandboxId: f.providerSandboxId,
      observedRunMs: f.observedRunMs,
      action: f.action,
      detail: f.detail,
    })),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    summary: { ...summary, lastAt },
  };
}
