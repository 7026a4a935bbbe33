import { createHash } from "node:crypto";
import { and, eq, inArray } from "drizzle-orm";
import type { Credentials, ProviderSandbox } from "../../adapters/contract";
import { reconcilerFindings, sandboxes, teamCredentialBindings } from "../../db/schema";
import { newId } from "../ids";
import { metrics } from "../metrics";
import type { Runtime } from "../runtime";
import { scrubSecrets, withScrubbedErrors } from "../secrets";
import { effectiveRefs, teamBindings } from "./credentials";
import { settleSandbox } from "./lifecycle";

const LIVE_STATES = ["requested", "provisioning", "ready", "destroying"] as const;
/** A ready sandbox younger than this is not declared lost: a provider's listing may lag a create. */
const LOST_MIN_AGE_MS = 15_000;
/** Ids per `IN (…)` query: Postgres takes at most 65,535 bind parameters per statement. */
const ID_CHUNK = 5_000;
const chunksOf = <T>(xs: T[], n: number) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));

export type ReconcileReport = {
  extensionId: string;
  aborted: string | null;
  listed: number;
  orphansKilled: number;
  orphanKillFailures: number;
  lost: number;
};

/** Every distinct set of credentials sandboxes on this extension may have been created with. */
async function credentialSets(rt: Runtime, extensionId: string): Promise<Credentials[]> {
  const ext = rt.catalog.extensions.get(extensionId)!;
  const sets = new Map<string, Credentials>();
  const add = async (refs: Record<string, string>) => {
    const resolved = await rt.resolveSecrets(refs);
    if (!resolved.ok) return;
    const key = createHash("sha256").update(JSON.stringify(resolved.values)).digest("hex");
    sets.set(key, resolved.values);
  };
  await add(ext.credentials);
  const teams = await rt.db
    .selectDistinct({ teamId: teamCredentialBindings.teamId })
    .from(teamCredentialBindings)
    .where(eq(teamCredentialBindings.extensionId, extensionId));
  for (const { teamId } of teams) await add(effectiveRefs(ext, await teamBindings(rt, teamId)).refs);
  return [...sets.values()];
}

async function recordFinding(rt: Runtime, f: Omit<typeof reconcilerFindings.$inferInsert, "id" | "at">) {
  metrics().reconcilerFindings.inc({ extension: f.extensionId, kind: f.kind });
  await rt.db.insert(reconcilerFindings).values({ id: newId("fnd", rt.clock.now()), at: rt.clock.now(), ...f });
}

/**
 * One reconciler pass over one extension (invariant 7). Reads the provider's full list of
 * Sandboxer-tagged sandboxes under every credential set in use, then:
 * - a provider sandbox with no live row is an orphan: killed, with its observed run time recorded;
 * - a ready row whose provider sandbox is gone becomes `lost`, billed to when it was last seen.
 * A listing that fails part-way proves nothing: the pass stops before killing or marking anything.
 */
export async function reconcileExtension(rt: Runtime, extensionId: string, opts: { idChunk?: number } = {}): Promise<ReconcileReport> {
  const idChunk = opts.idChunk ?? ID_CHUNK;
  const report: ReconcileReport = { extensionId, aborted: null, listed: 0, orphansKilled: 0, orphanKillFailures: 0, lost: 0 };
  const adapter = rt.adapters.get(extensionId);
  if (!adapter) return { ...report, aborted: "adapter not available" };
  const log = rt.logger.child({ extensionId, job: "reconcile" });

  // The listing is a snapshot from about now; a pass over many sandboxes can take longer than
  // LOST_MIN_AGE_MS, so "ready long enough" is judged against when the listing began.
  const listedFrom = rt.clock.now();
  const listed = new Map<string, { sbx: ProviderSandbox; credentials: Credentials }>();
  for (const credentials of await credentialSets(rt, extensionId)) {
    try {
      const ctx = { logger: log, clock: rt.clock, credentials };
      for (const sbx of await withScrubbedErrors(credentials, () => adapter.list(ctx))) listed.set(sbx.providerSandboxId, { sbx, credentials });
    } catch (err) {
      const reason = scrubSecrets((err as Error).message, Object.values(credentials));
      await recordFinding(rt, { extensionId, kind: "listing_failed", action: "pass aborted; nothing killed or marked lost", detail: reason.slice(0, 500) });
      log.warn({ err: { message: reason } }, "reconcile listing failed; pass aborted");
      return { ...report, aborted: `listing failed: ${reason}` };
    }
  }
  report.listed = listed.size;
  const now = rt.clock.now();

  const taggedIds = [...new Set([...listed.values()].map((l) => l.sbx.sandboxId).filter((id): id is string => Boolean(id)))];
  const tagged: (typeof sandboxes.$inferSelect)[] = [];
  for (const ids of chunksOf(taggedIds, idChunk)) tagged.push(...(await rt.db.select().from(sandboxes).where(inArray(sandboxes.id, ids))));
  const rowById = new Map(tagged.map((r) => [r.id, r]));

  const seen: string[] = [];
  for (const { sbx, credentials } of listed.values()) {
    if (sbx.state === "ended") continue;
    const row = sbx.sandboxId ? rowById.get(sbx.sandboxId) : undefined;
    const live =
      row !== undefined &&
      (LIVE_STATES as readonly string[]).includes(row.state) &&
      row.extensionId === extensionId &&
      (row.providerSandboxId === null || row.providerSandboxId === sbx.providerSandboxId);
    if (live) {
      if (row.providerSandboxId === sbx.providerSandboxId) seen.push(row.id);
      continue;
    }
    const observedRunMs = Math.max(0, now.getTime() - sbx.startedAt.getTime());
    let action = "killed";
    try {
      await withScrubbedErrors(credentials, () => adapter.teardown({ logger: log, clock: rt.clock, credentials }, sbx.providerSandboxId));
      report.orphansKilled++;
    } catch (err) {
      action = `kill failed: ${scrubSecrets((err as Error).message, Object.values(credentials)).slice(0, 300)}`;
      report.orphanKillFailures++;
    }
    await recordFinding(rt, {
      extensionId,
      kind: "orphan",
      teamId: row?.teamId ?? sbx.teamId,
      sandboxId: sbx.sandboxId,
      providerSandboxId: sbx.providerSandboxId,
      observedRunMs,
      action,
      detail: row ? `ledger row is ${row.state}` : "no ledger row",
    });
    log.warn({ providerSandboxId: sbx.providerSandboxId, sandboxId: sbx.sandboxId, observedRunMs, action }, "orphan found");
  }
  for (const ids of chunksOf(seen, idChunk)) await rt.db.update(sandboxes).set({ lastSeenAt: now }).where(inArray(sandboxes.id, ids));

  const running = new Set([...listed.values()].filter((l) => l.sbx.state !== "ended").map((l) => l.sbx.providerSandboxId));
  const ready = await rt.db.select().from(sandboxes).where(and(eq(sandboxes.extensionId, extensionId), eq(sandboxes.state, "ready")));
  for (const row of ready) {
    if (!row.providerSandboxId || running.has(row.providerSandboxId)) continue;
    if (row.destroyRequestedAt || !row.readyAt || listedFrom.getTime() - row.readyAt.getTime() < LOST_MIN_AGE_MS) continue;
    // Past its expiry the provider's own timeout (TTL + grace) may have ended it: that is an
    // expiry, not a loss. Its TTL teardown (or the sweep) settles it `destroyed`, billed to expiry.
    if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) continue;
    const ended = listed.get(row.providerSandboxId)?.sbx.endsAt ?? null;
    const lastSeen = row.lastSeenAt ?? row.readyAt;
    await settleSandbox(rt, row.id, {
      outcome: "already_gone",
      providerEndedAt: ended && ended > lastSeen ? ended : lastSeen,
      reason: "the provider no longer has it (found by the reconciler)",
      forceState: "lost",
    });
    await recordFinding(rt, {
      extensionId,
      kind: "lost",
      teamId: row.teamId,
      sandboxId: row.id,
      providerSandboxId: row.providerSandboxId,
      action: "marked lost; billed to when it was last seen running",
    });
    report.lost++;
  }
  log.info({ ...report, extensionId: undefined }, "reconcile pass done"); // the child logger already names the extension
  return report;
}
