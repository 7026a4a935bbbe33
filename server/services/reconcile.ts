import { createHash } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Credentials, ProviderSandbox } from "../../adapters/contract";
import { reconcilerFindings, sandboxes, teamCredentialBindings } from "../../db/schema";
import { newId } from "../ids";
import { metrics } from "../metrics";
import type { Runtime } from "../runtime";
import { scrubSecrets, withScrubbedErrors } from "../secrets";
import { resolveTeamCredentials } from "./credentials";
import { settleSandbox } from "./lifecycle";
import { ts } from "./sql-rows";

const LIVE_STATES = ["requested", "provisioning", "ready", "destroying"] as const;
/** A ready sandbox younger than this is not declared lost: a provider's listing may lag a create. */
const LOST_MIN_AGE_MS = 15_000;
/** Ids per `IN (…)` query: Postgres takes at most 65,535 bind parameters per statement. */
const ID_CHUNK = 5_000;
const chunksOf = <T>(xs: T[], n: number) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));

type Row = typeof sandboxes.$inferSelect;

export type ListingFailure = {
  /** Teams whose own credentials these are (a team's findings show the failure). */
  teamIds: string[];
  /** Whether these are the manifest's (platform) credentials. */
  platform: boolean;
  /** The error, with every credential value scrubbed. */
  reason: string;
};

export type ReconcileReport = {
  extensionId: string;
  /** Set when no credential set could be listed: nothing was judged at all. */
  aborted: string | null;
  listed: number;
  orphansKilled: number;
  orphanKillFailures: number;
  /** Provider sandboxes left running because the listing credentials cannot speak for them. */
  orphansLeft: number;
  lost: number;
  /** Credential sets whose listing failed (or that did not resolve): their sandboxes were not judged. */
  listingFailures: ListingFailure[];
};

/**
 * One distinct set of credential values sandboxes on an extension may have been created with,
 * and whose they are: the manifest's own (platform) and/or teams' own bindings (BYOK). Two
 * references that resolve to the same values are one set (one provider account listing).
 */
type CredentialSet = { key: string; credentials: Credentials; platform: boolean; teams: Set<string> };

type CredentialSets = {
  sets: CredentialSet[];
  /** The platform set's key; null when the manifest's credentials do not resolve. */
  platformKey: string | null;
  platformProblem: string | null;
  /** Team → its set's key, for teams with their own bindings on this extension. */
  teamKeys: Map<string, string>;
  /** Teams whose own bindings do not resolve (or may not be used), and why. */
  unresolved: Map<string, string>;
};

const setKeyOf = (values: Credentials) => createHash("sha256").update(JSON.stringify(values)).digest("hex");

/** Every distinct set of credentials sandboxes on this extension may have been created with. */
async function credentialSets(rt: Runtime, extensionId: string): Promise<CredentialSets> {
  const ext = rt.catalog.extensions.get(extensionId)!;
  const byKey = new Map<string, CredentialSet>();
  const add = (values: Credentials) => {
    const key = setKeyOf(values);
    const set = byKey.get(key) ?? { key, credentials: values, platform: false, teams: new Set<string>() };
    byKey.set(key, set);
    return set;
  };
  const out: CredentialSets = { sets: [], platformKey: null, platformProblem: null, teamKeys: new Map(), unresolved: new Map() };
  const platform = await rt.resolveSecrets(ext.credentials);
  if (platform.ok) {
    const set = add(platform.values);
    set.platform = true;
    out.platformKey = set.key;
  } else out.platformProblem = platform.reason;

  const teams = await rt.db
    .selectDistinct({ teamId: teamCredentialBindings.teamId })
    .from(teamCredentialBindings)
    .where(eq(teamCredentialBindings.extensionId, extensionId));
  for (const { teamId } of teams) {
    // The same resolution (and the same per-team reference checks) a job uses for this team.
    const resolved = await resolveTeamCredentials(rt, teamId, ext);
    if (resolved.source !== "team") continue; // nothing of its own bound for this manifest's fields
    if (!resolved.ok) {
      out.unresolved.set(teamId, resolved.reason);
      continue;
    }
    const set = add(resolved.values);
    set.teams.add(teamId);
    out.teamKeys.set(teamId, set.key);
  }
  out.sets = [...byKey.values()];
  return out;
}

async function recordFinding(rt: Runtime, f: Omit<typeof reconcilerFindings.$inferInsert, "id" | "at">) {
  metrics().reconcilerFindings.inc({ extension: f.extensionId, kind: f.kind });
  await rt.db.insert(reconcilerFindings).values({ id: newId("fnd", rt.clock.now()), at: rt.clock.now(), ...f });
}

/**
 * One reconciler pass over one extension (invariant 7). Lists the provider's Sandboxer-tagged
 * sandboxes under every credential set in use (the platform's, each team's own), then:
 * - a provider sandbox with no live row is an orphan: killed, with its observed run time recorded;
 * - a ready row whose provider sandbox is gone becomes `lost`, billed to when it was last seen.
 *
 * Each credential set is judged on its own listing:
 * - A listing that fails (at all, or part-way) proves nothing about the sandboxes that set
 *   would list: none of them is killed or marked lost, and the failure is a `listing_failed`
 *   finding for the team(s) whose credentials failed (platform-level for the platform's). For a
 *   team's own credentials nothing showed those sandboxes ended either, so they stay billable up
 *   to this pass (`lastSeenAt`); a platform listing failing (an outage) moves nothing.
 *   Every other set is still reconciled in full.
 * - A row is judged only by the listing of the credentials it was created with (the team's own
 *   for a BYOK sandbox, the platform's otherwise); another team's listing never marks it lost,
 *   kills its sandbox or files a finding under its team.
 * - A finding names a team only when no other team could have written what it rests on: a
 *   provider tag is trusted only where Sandboxer (platform credentials) or that team itself
 *   (its own credentials) wrote it. A team's credentials never kill a sandbox tagged for another
 *   team: it is left running (at that team's provider account's expense) and reported to it.
 */
export async function reconcileExtension(rt: Runtime, extensionId: string, opts: { idChunk?: number } = {}): Promise<ReconcileReport> {
  const idChunk = opts.idChunk ?? ID_CHUNK;
  const report: ReconcileReport = {
    extensionId,
    aborted: null,
    listed: 0,
    orphansKilled: 0,
    orphanKillFailures: 0,
    orphansLeft: 0,
    lost: 0,
    listingFailures: [],
  };
  const adapter = rt.adapters.get(extensionId);
  if (!adapter) return { ...report, aborted: "adapter not available" };
  const log = rt.logger.child({ extensionId, job: "reconcile" });

  // The listing is a snapshot from about now; a pass over many sandboxes can take longer than
  // LOST_MIN_AGE_MS, so "ready long enough" is judged against when the listing began.
  const listedFrom = rt.clock.now();
  const cs = await credentialSets(rt, extensionId);
  const allSecrets = cs.sets.flatMap((s) => Object.values(s.credentials));
  const listed = new Map<string, { sbx: ProviderSandbox; listers: CredentialSet[] }>();
  /** Keys of the sets whose listing completed: only their sandboxes are judged. */
  const listedOk = new Set<string>();
  for (const set of cs.sets) {
    let found: ProviderSandbox[];
    try {
      const ctx = { logger: log, clock: rt.clock, credentials: set.credentials };
      found = await withScrubbedErrors(set.credentials, () => adapter.list(ctx));
    } catch (err) {
      const reason = scrubSecrets((err as Error).message, allSecrets).slice(0, 500);
      report.listingFailures.push({ teamIds: [...set.teams], platform: set.platform, reason });
      continue; // a partial listing proves nothing: none of it is used
    }
    listedOk.add(set.key);
    for (const sbx of found) {
      const entry = listed.get(sbx.providerSandboxId) ?? { sbx, listers: [] };
      entry.listers.push(set);
      listed.set(sbx.providerSandboxId, entry);
    }
  }
  for (const [teamId, reason] of cs.unresolved) report.listingFailures.push({ teamIds: [teamId], platform: false, reason: `credentials not available: ${reason}`.slice(0, 500) });
  if (cs.sets.length > 0 && listedOk.size === 0) report.aborted = `listing failed: ${report.listingFailures[0]!.reason}`;
  const action = report.aborted
    ? "pass aborted; nothing killed or marked lost"
    : "listing failed; nothing on these credentials killed or marked lost (other credentials reconciled)";
  for (const f of report.listingFailures) {
    for (const teamId of f.teamIds) await recordFinding(rt, { extensionId, kind: "listing_failed", teamId, action, detail: f.reason });
    if (f.platform) await recordFinding(rt, { extensionId, kind: "listing_failed", action, detail: f.reason });
    log.warn({ err: { message: f.reason }, teamIds: f.teamIds, platform: f.platform }, "reconcile listing failed; those credentials' sandboxes not judged");
  }
  report.listed = listed.size;
  const now = rt.clock.now();

  /** The key of the credential set a row's sandbox was created with, if that set is known now. */
  const setOfRow = (row: Row): string | null =>
    row.credentialSource === "team" ? (cs.teamKeys.get(row.teamId) ?? null) : cs.platformKey;
  /** Teams whose own credentials listed a sandbox: any of them could have written its tags. */
  const writersOf = (listers: CredentialSet[]) => new Set(listers.flatMap((s) => [...s.teams]));
  const soleTeam = (teams: Set<string>) => (teams.size === 1 ? [...teams][0]! : null);

  const taggedIds = [...new Set([...listed.values()].map((l) => l.sbx.sandboxId).filter((id): id is string => Boolean(id)))];
  const tagged: Row[] = [];
  for (const ids of chunksOf(taggedIds, idChunk)) tagged.push(...(await rt.db.select().from(sandboxes).where(inArray(sandboxes.id, ids))));
  const rowById = new Map(tagged.map((r) => [r.id, r]));

  const seen: string[] = [];
  for (const { sbx, listers } of listed.values()) {
    if (sbx.state === "ended") continue;
    const row = sbx.sandboxId ? rowById.get(sbx.sandboxId) : undefined;
    const live =
      row !== undefined &&
      (LIVE_STATES as readonly string[]).includes(row.state) &&
      row.extensionId === extensionId &&
      (row.providerSandboxId === null || row.providerSandboxId === sbx.providerSandboxId);
    if (live) {
      // The provider's own id names this row's sandbox: it is running, whoever's listing says so.
      if (row.providerSandboxId === sbx.providerSandboxId) seen.push(row.id);
      continue;
    }
    const writers = writersOf(listers);
    // Whose sandbox the tags claim it is: the ledger row's team, or (no row) the tag's team.
    const claimed = row ? row.teamId : sbx.teamId;
    let judge: CredentialSet | undefined;
    if (row) {
      const own = setOfRow(row);
      // Judged only by the listing of the credentials it was created with. If those could not
      // be listed this pass (or are not known any more), it waits: nothing else speaks for it.
      if (own === null || !listedOk.has(own)) continue;
      judge = listers.find((s) => s.key === own);
    } else {
      // No row: the platform's account is ours to clean (its tags are Sandboxer's). On a team's
      // account, only a tag naming that team itself: a team's key cannot speak for another team.
      judge = listers.find((s) => s.platform) ?? (claimed !== null && writers.size === 1 && writers.has(claimed) ? listers[0] : undefined);
    }
    const observedRunMs = Math.max(0, now.getTime() - sbx.startedAt.getTime());
    if (!judge) {
      // Listed only under credentials that are not this sandbox's: leave it to its own, and tell
      // whoever owns the listing account (nothing about the other team's row).
      report.orphansLeft++;
      const teamId = listers.some((s) => s.platform) ? null : soleTeam(writers);
      await recordFinding(rt, {
        extensionId,
        kind: "orphan",
        teamId,
        sandboxId: null,
        providerSandboxId: sbx.providerSandboxId,
        observedRunMs,
        action: "left running: its tags name another team's sandbox, which these credentials cannot speak for",
        detail: "tagged for another team",
      });
      log.warn({ providerSandboxId: sbx.providerSandboxId, observedRunMs }, "provider sandbox tagged for another team's credentials; left running");
      continue;
    }
    let action = "killed";
    try {
      await withScrubbedErrors(judge.credentials, () => adapter.teardown({ logger: log, clock: rt.clock, credentials: judge.credentials }, sbx.providerSandboxId));
      report.orphansKilled++;
    } catch (err) {
      action = `kill failed: ${scrubSecrets((err as Error).message, allSecrets).slice(0, 300)}`;
      report.orphanKillFailures++;
    }
    // The claimed team sees it only if nobody but that team (or Sandboxer) could have tagged it.
    const trusted = claimed !== null && [...writers].every((t) => t === claimed);
    await recordFinding(rt, {
      extensionId,
      kind: "orphan",
      teamId: trusted ? claimed : judge.platform ? null : soleTeam(writers),
      sandboxId: trusted ? sbx.sandboxId : null,
      providerSandboxId: sbx.providerSandboxId,
      observedRunMs,
      action,
      detail: trusted
        ? row
          ? `ledger row is ${row.state}`
          : "no ledger row"
        : claimed === null
          ? "no ledger row; its tags name no team"
          : "its tags are not trusted: another team's credentials list it too",
    });
    log.warn({ providerSandboxId: sbx.providerSandboxId, sandboxId: sbx.sandboxId, observedRunMs, action }, "orphan found");
  }
  for (const ids of chunksOf(seen, idChunk)) await rt.db.update(sandboxes).set({ lastSeenAt: now }).where(inArray(sandboxes.id, ids));

  const running = new Set([...listed.values()].filter((l) => l.sbx.state !== "ended").map((l) => l.sbx.providerSandboxId));
  const live = await rt.db
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.extensionId, extensionId), inArray(sandboxes.state, ["ready", "destroying"])));
  const unjudged: string[] = [];
  let platformUnjudged = 0;
  for (const row of live) {
    if (!row.providerSandboxId) continue;
    const own = setOfRow(row);
    if (own === null || !listedOk.has(own)) {
      // Its credentials could not be listed. A team's own key is the team's to break (and to
      // use elsewhere to end the sandbox unseen): nothing showed it ended, so it stays billable at
      // least to this pass (a later "already gone" bills to here, capped at its expiry). A
      // platform key failing is a provider outage the team had no part in: such a sandbox keeps
      // its last real sighting, so one that ended during the outage is not billed through it.
      if (!running.has(row.providerSandboxId) && row.credentialSource === "team") unjudged.push(row.id);
      if (own === null && row.credentialSource !== "team") platformUnjudged++;
      continue;
    }
    if (row.state !== "ready" || running.has(row.providerSandboxId)) continue;
    if (row.destroyRequestedAt || !row.readyAt || listedFrom.getTime() - row.readyAt.getTime() < LOST_MIN_AGE_MS) continue;
    // Past its expiry the provider's own timeout (TTL + grace) may have ended it: that is an
    // expiry, not a loss. Its TTL teardown (or the sweep) settles it `destroyed`, billed to expiry.
    if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) continue;
    const ended = listed.get(row.providerSandboxId)?.sbx.endsAt ?? null;
    const lastSeen = row.lastSeenAt ?? row.readyAt;
    await settleSandbox(rt, row.id, {
      outcome: "already_gone",
      providerEndedAt: ended && ended > lastSeen ? ended : lastSeen,
      reason: "the provider no longer has it; found by the reconciler",
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
  for (const ids of chunksOf(unjudged, idChunk)) {
    await rt.db
      .update(sandboxes)
      .set({ lastSeenAt: sql`greatest(coalesce(${sandboxes.lastSeenAt}, ${ts(listedFrom)}), ${ts(listedFrom)})` })
      .where(inArray(sandboxes.id, ids));
  }
  if (platformUnjudged > 0) {
    // Not recorded on every pass of an installation without platform keys: only when live
    // sandboxes were created with them and cannot be listed now.
    const reason = `credentials not available: ${cs.platformProblem ?? "not resolved"}; ${platformUnjudged} live sandbox(es) not judged`.slice(0, 500);
    report.listingFailures.push({ teamIds: [], platform: true, reason });
    await recordFinding(rt, { extensionId, kind: "listing_failed", action: "listing not possible; nothing killed or marked lost", detail: reason });
  }
  log.info({ ...report, extensionId: undefined }, "reconcile pass done"); // the child logger already names the extension
  return report;
}
