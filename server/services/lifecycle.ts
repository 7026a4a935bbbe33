import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import {
  isProviderError,
  ProviderError,
  type AdapterContext,
  type Credentials,
  type SandboxAdapter,
} from "../../adapters/contract";
import { creditLedger, sandboxEvents, sandboxes, teamCredentialBindings, teamCredits, usageRecords, type RoutingDecision, type SandboxState } from "../../db/schema";
import type { DbOrTx } from "../../db/client";
import { jobIds } from "../../jobs/catalog";
import { newId } from "../ids";
import { metrics } from "../metrics";
import { formatMicros } from "../money";
import type { Runtime } from "../runtime";
import { scrubSecrets, withScrubbedErrors } from "../secrets";
import { recordProviderFailure, recordProviderSuccess } from "./cooldown";
import { bindingsOf, resolveTeamCredentials, type Bindings } from "./credentials";
import { appendLedger, settleCredits } from "./credits";
import { recordEvent } from "./events";
import { enqueueForFinHub } from "./fin-hub";
import { decisionOf, planRoute, specOf, type RouteCandidate, type RoutePlan } from "./routing";
import { columnsOf, eventsFrom, eventsValues, int8, jsonb, rowOf, rowsOf, text, ts, type EventSpec } from "./sql-rows";

type Row = typeof sandboxes.$inferSelect;
const TERMINAL: SandboxState[] = ["destroyed", "failed", "lost"];
/** The provider's own timeout is the TTL plus this, so Sandboxer's teardown comes first. */
export const PROVIDER_TIMEOUT_GRACE_S = 60;

/** Thrown for failures that no retry can fix; the job runner maps it to BullMQ's unrecoverable error. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentJobError";
  }
}

/**
 * Every eligible provider is at its concurrency or create-rate limit: the job goes back to the
 * delayed set for `delayMs` without using up an attempt.
 */
export class CapacityWait extends Error {
  constructor(readonly delayMs: number) {
    super(`waiting ${delayMs} ms for provider capacity`);
    this.name = "CapacityWait";
  }
}
const CAPACITY_RECHECK_MS = 1_000;

/**
 * Takes one create slot from the extension's creates-per-second budget, shared by every worker
 * through a Redis counter per time window. Returns 0 when taken, else ms until the next window.
 */
async function takeCreateSlot(rt: Runtime, ext: { id: string; limits: { creates_per_second: number } }): Promise<number> {
  const rate = ext.limits.creates_per_second;
  const windowMs = Math.max(1000, Math.ceil(1000 / rate));
  const limit = Math.max(1, Math.floor((rate * windowMs) / 1000));
  const now = rt.clock.now().getTime();
  const window = Math.floor(now / windowMs);
  const key = `${rt.keyPrefix}:rate:${ext.id}:${window}`;
  const [[, count]] = (await rt.redis.multi().incr(key).pexpire(key, windowMs * 2).exec()) as [[null, number]];
  return count <= limit ? 0 : (window + 1) * windowMs - now;
}

/** Thrown to ask for a retry no sooner than `retryAfterMs`. */
export class RetryLaterError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = "RetryLaterError";
  }
}

/** The team's credential bindings read with a job's row (one query for both); see loadJobRow. */
const bindingsRead = new WeakMap<Row, Bindings>();

/**
 * A job's sandbox row and, in the same query, its team's credential bindings, so resolving
 * credentials later in the job needs no query of its own.
 */
async function loadJobRow(rt: Runtime, id: string): Promise<Row | null> {
  const [raw] = await rowsOf(
    rt.db,
    sql`select ${columnsOf(sandboxes)},
          (select coalesce(json_agg(json_build_array(b.extension_id, b.field, b.secret_ref)), '[]'::json)
           from ${teamCredentialBindings} b where b.team_id = ${sandboxes}.team_id) as bindings__
        from ${sandboxes} where id = ${id}`,
  );
  if (!raw) return null;
  const row = rowOf(sandboxes, raw);
  const list = (typeof raw.bindings__ === "string" ? JSON.parse(raw.bindings__) : raw.bindings__) as [string, string, string][];
  bindingsRead.set(row, bindingsOf(list.map(([extensionId, field, secretRef]) => ({ extensionId, field, secretRef }))));
  return row;
}

function ctxFor(rt: Runtime, sandboxId: string, extensionId: string, credentials: Credentials): AdapterContext {
  return { logger: rt.logger.child({ sandboxId, extensionId }), clock: rt.clock, credentials };
}

/** A provider error as text safe to store: no credential value survives. */
function countProviderError(extensionId: string, operation: string, err: unknown) {
  metrics().providerErrors.inc({ extension: extensionId, operation, kind: isProviderError(err) ? err.kind : "other" });
}

function describe(err: unknown, credentials: Credentials): string {
  const msg = isProviderError(err) ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return scrubSecrets(msg, Object.values(credentials)).slice(0, 500);
}

async function credentialsFor(rt: Runtime, row: Row, extensionId: string): Promise<Credentials> {
  const ext = rt.catalog.extensions.get(extensionId);
  if (!ext) throw new PermanentJobError(`extension ${extensionId} is no longer configured`);
  const resolved = await resolveTeamCredentials(rt, row.teamId, ext, bindingsRead.get(row));
  if (!resolved.ok) throw new ProviderError("auth", `credentials not available: ${resolved.reason}`);
  return resolved.values;
}

function adapterOrThrow(rt: Runtime, extensionId: string): SandboxAdapter {
  const adapter = rt.adapters.get(extensionId);
  if (!adapter) throw new PermanentJobError(`adapter for ${extensionId} is not available`);
  return adapter;
}

/**
 * Marks a sandbox failed and releases its hold exactly once. Nothing is debited: a sandbox that
 * never became ready is not billed.
 */
export async function failSandbox(rt: Runtime, sandboxId: string, reason: string): Promise<void> {
  const now = rt.clock.now();
  await rt.db.transaction(async (tx) => {
    const [row] = await tx.select().from(sandboxes).where(eq(sandboxes.id, sandboxId)).for("update");
    if (!row || TERMINAL.includes(row.state)) return;
    const released = await appendLedger(tx, {
      teamId: row.teamId,
      kind: "hold_release",
      amountMicros: row.holdMicros,
      sandboxId,
      idempotencyKey: `release:${sandboxId}`,
      note: "create failed",
    });
    if (released) await settleCredits(tx, row.teamId, row.holdMicros, 0n);
    await tx
      .update(sandboxes)
      .set({ state: "failed", failureReason: reason, holdMicros: 0n, costMicros: 0n, endedAt: now, updatedAt: now })
      .where(eq(sandboxes.id, sandboxId));
    await recordEvent(tx, { sandboxId, teamId: row.teamId, kind: "state", fromState: row.state, toState: "failed", extensionId: row.extensionId, reason, at: now });
  });
  rt.logger.warn({ sandboxId, reason }, "sandbox failed");
}

/** Tears down a provider sandbox during a failed create; errors are logged, the reconciler is the backstop. */
async function discardProviderSandbox(rt: Runtime, row: Pick<Row, "id">, extensionId: string, providerSandboxId: string, credentials: Credentials) {
  try {
    await withScrubbedErrors(credentials, () => adapterOrThrow(rt, extensionId).teardown(ctxFor(rt, row.id, extensionId, credentials), providerSandboxId));
  } catch (err) {
    rt.logger.error({ sandboxId: row.id, extensionId, providerSandboxId, err: { message: describe(err, credentials) } }, "could not discard provider sandbox");
  }
}

export type AttemptInfo = { attempt: number; isLastAttempt: boolean };

/**
 * The provision job: route, create (or adopt what an earlier attempt created), save the
 * provider id, wait until ready, mark ready and schedule the TTL teardown.
 */
export async function provisionSandbox(rt: Runtime, sandboxId: string, attempt: AttemptInfo): Promise<void> {
  const row = await loadJobRow(rt, sandboxId);
  if (!row || row.state !== "requested" && row.state !== "provisioning") return;
  const log = rt.logger.child({ sandboxId, attempt: attempt.attempt });

  if (row.destroyRequestedAt && !row.providerSandboxId) {
    // An earlier attempt may have created one whose reply was lost (or crashed before saving its
    // id): tear down whatever carries our tag before closing the books, or it runs unbilled.
    if (row.extensionId) await discardTagged(rt, row, row.extensionId);
    await failSandbox(rt, sandboxId, "cancelled: destroy was requested before the sandbox was created");
    return;
  }

  let extensionId = row.extensionId;
  let providerSandboxId = row.providerSandboxId;
  let credentials: Credentials = {};

  try {
    if (extensionId && !providerSandboxId) {
      // An earlier attempt chose a provider and may have created a sandbox whose reply was lost.
      credentials = await credentialsFor(rt, row, extensionId);
      providerSandboxId = await adoptByTag(rt, row, extensionId, credentials);
    } else if (extensionId && providerSandboxId) {
      credentials = await credentialsFor(rt, row, extensionId);
    }

    if (!providerSandboxId) {
      const created = await routeAndCreate(rt, row, attempt);
      if (!created) return;
      ({ extensionId, providerSandboxId, credentials } = created);
    }

    const adapter = adapterOrThrow(rt, extensionId!);
    const ctx = ctxFor(rt, sandboxId, extensionId!, credentials);
    try {
      await withScrubbedErrors(credentials, () => adapter.waitReady(ctx, providerSandboxId!, rt.readyTimeoutMs));
    } catch (err) {
      countProviderError(extensionId!, "waitReady", err);
      // Kill the slow sandbox before any retry creates another one (invariant 4).
      await discardProviderSandbox(rt, row, extensionId!, providerSandboxId!, credentials);
      await rt.db
        .update(sandboxes)
        .set({ providerSandboxId: null, startedAt: null, updatedAt: rt.clock.now() })
        .where(eq(sandboxes.id, sandboxId));
      await recordEvent(rt.db, {
        sandboxId,
        teamId: row.teamId,
        kind: "provider_error",
        extensionId,
        reason: `not ready, provider sandbox ${providerSandboxId} torn down: ${describe(err, credentials)}`,
        at: rt.clock.now(),
      });
      throw err;
    }
    await markReady(rt, sandboxId);
    log.info({ extensionId, providerSandboxId }, "sandbox ready");
  } catch (err) {
    if (err instanceof CapacityWait) throw err;
    const reason = describe(err, credentials);
    const permanent = err instanceof PermanentJobError || (isProviderError(err) && !err.retryable);
    if (permanent || attempt.isLastAttempt) {
      await failSandbox(rt, sandboxId, reason);
      return;
    }
    log.warn({ err: { message: reason } }, "provision attempt failed; will retry");
    throw new RetryLaterError(reason, isProviderError(err) ? err.details.retryAfterMs : undefined);
  }
}

/** Best effort: the reconciler kills whatever a failed listing or teardown leaves behind. */
async function discardTagged(rt: Runtime, row: Row, extensionId: string) {
  try {
    const credentials = await credentialsFor(rt, row, extensionId);
    const ctx = ctxFor(rt, row.id, extensionId, credentials);
    const found = await withScrubbedErrors(credentials, () => adapterOrThrow(rt, extensionId).list(ctx, { sandboxId: row.id }));
    for (const s of found.filter((s) => s.state !== "ended")) await discardProviderSandbox(rt, row, extensionId, s.providerSandboxId, credentials);
  } catch (err) {
    rt.logger.warn({ sandboxId: row.id, extensionId, err: { message: describe(err, {}) } }, "could not look for provider sandboxes of a cancelled request");
  }
}

async function adoptByTag(rt: Runtime, row: Row, extensionId: string, credentials: Credentials): Promise<string | null> {
  const adapter = adapterOrThrow(rt, extensionId);
  const ctx = ctxFor(rt, row.id, extensionId, credentials);
  const found = (await withScrubbedErrors(credentials, () => adapter.list(ctx, { sandboxId: row.id }))).filter((s) => s.state !== "ended");
  if (found.length === 0) return null;
  const [keep, ...extra] = found.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  for (const dup of extra) await discardProviderSandbox(rt, row, extensionId, dup.providerSandboxId, credentials);
  await saveProviderId(rt, row, extensionId, keep!.providerSandboxId, keep!.startedAt, "adopted the provider sandbox an earlier attempt created");
  return keep!.providerSandboxId;
}

async function saveProviderId(
  rt: Runtime,
  row: Row,
  extensionId: string,
  providerSandboxId: string,
  startedAt: Date,
  reason: string,
  routed?: { decision: RoutingDecision; chosen: RouteCandidate },
) {
  const now = rt.clock.now();
  const events: EventSpec[] = [
    { sandboxId: row.id, teamId: row.teamId, kind: "provider_created", extensionId, reason, data: { providerSandboxId }, at: now },
  ];
  if (routed) events.push(routingEvent(row, routed.decision, routed.chosen, now));
  // One statement, so atomic without a transaction: the id is kept only if none was saved yet.
  await rt.db.execute(
    sql`with upd as (
          update ${sandboxes}
          set provider_sandbox_id = coalesce(provider_sandbox_id, ${providerSandboxId}),
              started_at = case when provider_sandbox_id is null then ${ts(startedAt)} else started_at end,
              ${routed ? sql`routing = ${jsonb(routed.decision)},` : sql``}
              updated_at = ${ts(now)}
          where id = ${row.id}
          returning id
        )
        ${eventsValues(events)}`,
  );
}

function routingEvent(row: Row, decision: RoutingDecision, chosen: RouteCandidate | null, at: Date): EventSpec {
  return {
    sandboxId: row.id,
    teamId: row.teamId,
    kind: "routing",
    extensionId: chosen?.extension.id ?? null,
    reason: chosen ? `routed to ${chosen.extension.id}` : "no route entry could create the sandbox",
    data: { candidates: decision.candidates },
    at,
  };
}

/**
 * Walks the route: the first eligible extension that creates a sandbox wins. Trouble before a
 * sandbox exists (429, 5xx, capacity) moves on to the next entry; a create whose reply was lost
 * is first looked for by tag, so it is adopted rather than duplicated.
 */
async function routeAndCreate(rt: Runtime, row: Row, attempt: AttemptInfo) {
  const profile = rt.catalog.profiles.get(row.profileId);
  if (!profile) throw new PermanentJobError(`profile ${row.profileId} is no longer configured`);
  const plan = await planRoute(rt, profile, row.ttlSeconds, { teamId: row.teamId, keepCredentials: true, bindings: bindingsRead.get(row) });
  const outcomes = new Map<string, { outcome: "chosen" | "failed"; reason: string }>();
  const spec = specOf(profile);
  let lastError: unknown = null;
  let waitMs: number | null = null;

  const eligible = plan.candidates.filter((c) => c.eligible);
  // Entries cooling down are passed over while another can serve; when all are cooling down the
  // request waits for the earliest to recover instead of failing.
  const ready = eligible.filter((c) => !c.coolingDown);
  if (eligible.length > 0 && ready.length === 0) {
    const until = Math.min(...eligible.map((c) => c.coolingDown!.until.getTime()));
    await noteWaiting(rt, row, `waiting: ${eligible.map((c) => `${c.extension.id} ${c.reason}`).join("; ")}`);
    throw new CapacityWait(Math.max(100, until - rt.clock.now().getTime()));
  }
  for (const candidate of ready) {
    const result = await tryCandidate(rt, row, plan, candidate, spec, outcomes);
    if (result instanceof CapacityWait) {
      waitMs = waitMs === null ? result.delayMs : Math.min(waitMs, result.delayMs);
      continue;
    }
    if (result instanceof Error) {
      lastError = result;
      // A create whose reply was lost may still land: trying the next provider now could leave
      // two sandboxes. The retry looks this one up by tag first.
      if (isProviderError(result) && result.kind === "timeout") break;
      continue;
    }
    if (!result.decisionStored) await storeDecision(rt, row, plan, outcomes, candidate);
    return result;
  }

  if (waitMs !== null) {
    // Every provider that could take it is at a limit: wait in the queue, don't fail.
    const limits = [...outcomes].filter(([, o]) => o.outcome === "failed").map(([id, o]) => `${id} ${o.reason}`);
    await noteWaiting(rt, row, `waiting: ${limits.join("; ") || "every provider is at a limit"}`);
    throw new CapacityWait(waitMs);
  }
  await storeDecision(rt, row, plan, outcomes, null);
  if (lastError && isProviderError(lastError) && lastError.retryable && !attempt.isLastAttempt) throw lastError;
  const why = decisionOf(plan, outcomes, rt.clock.now())
    .candidates.map((c) => `${c.extensionId}: ${c.reason}`)
    .join("; ");
  await failSandbox(rt, row.id, `no provider could create the sandbox (${why})`);
  return null;
}

/**
 * Claims the sandbox for an extension if it is under its max_concurrent: state provisioning,
 * the extension chosen, and (first attempt) the state event, in one statement that runs after
 * an advisory lock on the extension, so its snapshot sees every admission committed before the
 * lock was granted.
 *
 * "exclusive" serializes admissions and is exact. "shared" lets admissions run in parallel and
 * admits only with a margin: admissions it cannot see are those holding the shared lock when its
 * snapshot was taken, at most one per database connection, so it admits only while
 * live + max_connections < max_concurrent. Near the limit it returns null and the caller takes
 * the exclusive path, which waits for every shared holder to commit. Either way the limit holds
 * across every worker; far from it (the common case) creates no longer queue on one lock.
 */
async function admit(rt: Runtime, row: Row, candidate: RouteCandidate, now: Date, mode: "shared" | "exclusive"): Promise<boolean | null> {
  const extensionId = candidate.extension.id;
  const max = candidate.extension.limits.max_concurrent;
  const lock = mode === "shared" ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
  const margin = mode === "shared" ? sql`current_setting('max_connections')::int` : sql`0`;
  const upd = sql`upd`;
  const [res] = await rt.db.transaction(async (tx) => {
    await tx.execute(sql`select ${lock}(hashtext(${`sandboxer:extension:${extensionId}`}))`);
    return rowsOf(
      tx,
      sql`with live as (
            select count(*)::int as n from ${sandboxes}
            where extension_id = ${extensionId} and state in ('provisioning', 'ready', 'destroying') and id <> ${row.id}
          ), upd as (
            update ${sandboxes}
            set state = 'provisioning', extension_id = ${extensionId}, rate_card_version = ${text(candidate.extension.pricing.rate_card_version)},
                credential_source = ${text(candidate.credentialSource)}, updated_at = ${ts(now)}
            where id = ${row.id} and (select n from live) + ${margin} < ${max}::int
            returning id
          )${
            row.state === "requested"
              ? sql`, ev as (${eventsFrom(upd, { sandboxId: row.id, teamId: row.teamId, kind: "state", fromState: "requested", toState: "provisioning", extensionId, reason: `routing chose ${extensionId}`, at: now })})`
              : sql``
          }
          select (select n from live) as live, (select count(*)::int from upd) as admitted`,
    );
  });
  if (Number(res?.admitted ?? 0) === 1) return true;
  // Under the limit but within the shared path's margin: let the exclusive path decide.
  if (mode === "shared" && Number(res?.live ?? 0) < max) return null;
  return false;
}

async function tryCandidate(
  rt: Runtime,
  row: Row,
  plan: RoutePlan,
  candidate: RouteCandidate,
  spec: ReturnType<typeof specOf>,
  outcomes: Map<string, { outcome: "chosen" | "failed"; reason: string }>,
) {
  const extensionId = candidate.extension.id;
  const credentials = candidate.credentials ?? {};
  const adapter = candidate.adapter!;
  const ctx = ctxFor(rt, row.id, extensionId, credentials);
  const now = rt.clock.now();
  const rateWaitMs = await takeCreateSlot(rt, candidate.extension);
  if (rateWaitMs > 0) {
    outcomes.set(extensionId, { outcome: "failed", reason: `at its create-rate limit (${candidate.extension.limits.creates_per_second}/s)` });
    return new CapacityWait(rateWaitMs);
  }
  // The hold was sized at create time for the entries eligible then; an entry that became
  // eligible since (a key bound while the request waited) may cost more. Grow the hold first, so
  // the debit can never exceed it, or pass this entry over.
  const needed = candidate.estimateMicros ?? 0n;
  if (needed > row.holdMicros && !(await growHoldForRoute(rt, row, needed, extensionId))) {
    const reason = `insufficient credits for its estimate ($${formatMicros(needed)}; $${formatMicros(row.holdMicros)} held)`;
    outcomes.set(extensionId, { outcome: "failed", reason });
    return new Error(reason);
  }
  // Record the choice before calling the provider, so a crash mid-create is followed by adoption.
  const admitted = (await admit(rt, row, candidate, now, "shared")) ?? (await admit(rt, row, candidate, now, "exclusive"));
  if (admitted === false) {
    outcomes.set(extensionId, { outcome: "failed", reason: `at its concurrency limit (${candidate.extension.limits.max_concurrent} live sandboxes)` });
    return new CapacityWait(CAPACITY_RECHECK_MS);
  }
  row.state = "provisioning";
  try {
    const created = await withScrubbedErrors(credentials, () =>
      adapter.provision(ctx, { sandboxId: row.id, teamId: row.teamId, spec, timeoutSeconds: row.ttlSeconds + PROVIDER_TIMEOUT_GRACE_S }),
    );
    outcomes.set(extensionId, { outcome: "chosen", reason: "chosen: first eligible entry of the route that created the sandbox" });
    // The provider id (so a retry adopts rather than recreates) and the routing decision, with
    // their two events, in one statement.
    await saveProviderId(rt, row, extensionId, created.providerSandboxId, created.startedAt, `created on ${extensionId}`, {
      decision: decisionOf(plan, outcomes, rt.clock.now()),
      chosen: candidate,
    });
    await recordProviderSuccess(rt, extensionId);
    return { extensionId, providerSandboxId: created.providerSandboxId, credentials, decisionStored: true };
  } catch (err) {
    countProviderError(extensionId, "provision", err);
    const reason = describe(err, credentials);
    if (isProviderError(err) && err.kind === "timeout") {
      // The create may have landed on the provider after we gave up: look for it by tag.
      const adopted = await adoptByTag(rt, row, extensionId, credentials).catch(() => null);
      if (adopted) {
        outcomes.set(extensionId, { outcome: "chosen", reason: "chosen: adopted after the create reply was lost" });
        return { extensionId, providerSandboxId: adopted, credentials, decisionStored: false };
      }
    }
    outcomes.set(extensionId, { outcome: "failed", reason: `create failed: ${reason}` });
    await recordEvent(rt.db, { sandboxId: row.id, teamId: row.teamId, kind: "provider_error", extensionId, reason: `create failed: ${reason}`, at: rt.clock.now() });
    if (isProviderError(err) && err.kind === "timeout") {
      // Unknown outcome: do not move on to another provider in this attempt; a retry adopts or recreates here.
      return err;
    }
    if (isProviderError(err) && err.retryable) {
      await recordProviderFailure(rt, extensionId, { reason, retryAfterMs: err.details.retryAfterMs });
    }
    return isProviderError(err) ? err : new Error(reason);
  }
}

/**
 * Grows a waiting request's hold to `needed` (the estimate of the entry routing is about to try),
 * under the row lock: true when the hold now covers it, false when the team's available credit
 * cannot. The ledger key names the target, so a retried job grows it once.
 */
async function growHoldForRoute(rt: Runtime, row: Row, needed: bigint, extensionId: string): Promise<boolean> {
  return rt.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(sandboxes).where(eq(sandboxes.id, row.id)).for("update");
    if (!locked || !["requested", "provisioning"].includes(locked.state)) return false;
    const growth = needed - locked.holdMicros;
    if (growth > 0n) {
      const held = await tx
        .update(teamCredits)
        .set({ heldMicros: sql`${teamCredits.heldMicros} + ${growth}`, updatedAt: sql`now()` })
        .where(and(eq(teamCredits.teamId, row.teamId), sql`${teamCredits.balanceMicros} - ${teamCredits.heldMicros} >= ${growth}`))
        .returning({ teamId: teamCredits.teamId });
      if (held.length === 0) return false;
      await appendLedger(tx, {
        teamId: row.teamId,
        kind: "hold_grow",
        amountMicros: growth,
        sandboxId: row.id,
        idempotencyKey: `hold_grow:${row.id}:route:${extensionId}:${needed}`,
        note: `routing to ${extensionId}`,
      });
      await tx.update(sandboxes).set({ holdMicros: needed, estimateMicros: needed, updatedAt: rt.clock.now() }).where(eq(sandboxes.id, row.id));
      await recordEvent(tx, {
        sandboxId: row.id,
        teamId: row.teamId,
        kind: "hold_grown",
        extensionId,
        reason: `hold grew by $${formatMicros(growth)} to $${formatMicros(needed)}: ${extensionId}'s estimate is above what was held`,
        at: rt.clock.now(),
      });
    }
    row.holdMicros = growth > 0n ? needed : locked.holdMicros;
    return true;
  });
}

/**
 * Says on the sandbox's timeline why a request is waiting in the queue (cool-downs, limits), once
 * per distinct reason: the job rechecks every second or so, and the timeline should not.
 */
async function noteWaiting(rt: Runtime, row: Row, reason: string) {
  const text = reason.slice(0, 500);
  const [last] = await rt.db
    .select({ kind: sandboxEvents.kind, reason: sandboxEvents.reason })
    .from(sandboxEvents)
    .where(eq(sandboxEvents.sandboxId, row.id))
    .orderBy(desc(sandboxEvents.seq))
    .limit(1);
  if (last?.kind === "waiting" && last.reason === text) return;
  await recordEvent(rt.db, { sandboxId: row.id, teamId: row.teamId, kind: "waiting", reason: text, at: rt.clock.now() });
}

async function storeDecision(
  rt: Runtime,
  row: Row,
  plan: RoutePlan,
  outcomes: Map<string, { outcome: "chosen" | "failed"; reason: string }>,
  chosen: RouteCandidate | null,
) {
  const now = rt.clock.now();
  const decision = decisionOf(plan, outcomes, now);
  await rt.db.execute(
    sql`with upd as (update ${sandboxes} set routing = ${jsonb(decision)} where id = ${row.id} returning id)
        ${eventsValues([routingEvent(row, decision, chosen, now)])}`,
  );
}

/**
 * provisioning → ready, with its event, in one statement (the row lock lasts that statement);
 * then the TTL teardown is scheduled. A crash between the two is covered by the sweep, which
 * finds ready sandboxes past their expiry.
 */
async function markReady(rt: Runtime, sandboxId: string): Promise<void> {
  const now = rt.clock.now();
  const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  const upd = sql`upd`;
  // TTL counts from when the provider started the sandbox: that is what the provider bills.
  const [ready] = await rowsOf(
    rt.db,
    sql`with upd as (
          update ${sandboxes}
          set state = 'ready', ready_at = ${ts(now)}, last_seen_at = ${ts(now)}, updated_at = ${ts(now)},
              expires_at = started_at + ttl_seconds * interval '1 second'
          where id = ${sandboxId} and state = 'provisioning' and started_at is not null
          returning team_id, extension_id, expires_at, destroy_requested_at
        ), ev as (${eventsFrom(upd, {
          sandboxId,
          teamId: sql`team_id`,
          kind: "state",
          fromState: "provisioning",
          toState: "ready",
          extensionId: sql`extension_id`,
          reason: sql`'ready on ' || coalesce(extension_id, 'null') || '; expires at ' || to_char(expires_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')`,
          at: now,
        })})
        select ${iso("expires_at")} as expires_at, destroy_requested_at is not null as destroy_requested from upd`,
  );
  if (!ready) return;
  await rt.queue.enqueueTeardown(sandboxId, "ttl", new Date(String(ready.expires_at)));
  if (ready.destroy_requested) await rt.queue.enqueueTeardown(sandboxId, "requested");
}

/**
 * The teardown job (on request, at TTL, or from the sweep). Only a confirmed end on the provider
 * closes the ledger row (invariant 5): not-found means gone; auth errors stop and flag the
 * sandbox; throttling and outages are retried no sooner than the provider asks.
 */
export async function teardownSandbox(rt: Runtime, sandboxId: string, reason: "ttl" | "requested" | "sweep"): Promise<void> {
  const row = await loadJobRow(rt, sandboxId);
  if (!row || TERMINAL.includes(row.state)) return;
  const now = rt.clock.now();
  if (reason === "ttl" && row.expiresAt && row.expiresAt.getTime() > now.getTime() + 10 && !row.destroyRequestedAt) {
    return; // extended since this job was scheduled; a later TTL job exists
  }
  if (row.state === "requested" || row.state === "provisioning") {
    // The provision job owns the sandbox until it is ready; it sees destroyRequestedAt and acts.
    if (row.state === "provisioning" && row.providerSandboxId) throw new RetryLaterError("sandbox is still provisioning", 1_000);
    return;
  }

  const extensionId = row.extensionId!;
  const why = reason === "requested" || row.destroyRequestedAt ? "destroy requested" : reason === "ttl" ? "TTL reached" : "TTL passed (found by sweep)";
  if (row.state === "ready") {
    if (reason !== "requested" && row.expiresAt && !row.destroyRequestedAt) {
      metrics().ttlLateness.observe(Math.max(0, now.getTime() - row.expiresAt.getTime()) / 1000);
    }
    // The transition and its event in one statement: the event is written only if the row moved.
    await rt.db.execute(
      sql`with upd as (
            update ${sandboxes} set state = 'destroying', updated_at = ${ts(now)} where id = ${sandboxId} and state = 'ready' returning id
          )
          ${eventsFrom(sql`upd`, { sandboxId, teamId: row.teamId, kind: "state", fromState: "ready", toState: "destroying", extensionId, reason: why, at: now })}`,
    );
  }

  let credentials: Credentials = {};
  let result;
  try {
    credentials = await credentialsFor(rt, row, extensionId);
    result = await withScrubbedErrors(credentials, () => adapterOrThrow(rt, extensionId).teardown(ctxFor(rt, sandboxId, extensionId, credentials), row.providerSandboxId!));
  } catch (err) {
    countProviderError(extensionId, "teardown", err);
    if (isProviderError(err) && err.kind === "not_found") {
      result = { outcome: "already_gone" as const, endedAt: null };
    } else {
      const text = describe(err, credentials);
      // Anything but not-found (auth, throttling, an outage) did not show the sandbox gone: it
      // was in our custody, unconfirmed ended, up to now. A later "already gone" (a provider that
      // forgets a sandbox at its own timeout) bills at least to here; settle caps it at expiry.
      const failedAt = rt.clock.now();
      if ((isProviderError(err) && !err.retryable) || err instanceof PermanentJobError) {
        await flagAttention(rt, row, `teardown stopped: ${text}`, failedAt);
        throw new PermanentJobError(`teardown stopped: ${text}`);
      }
      await rt.db.execute(
        sql`with upd as (
              update ${sandboxes} set last_seen_at = ${billableTo(failedAt)} where id = ${sandboxId} returning id
            )
            ${eventsFrom(sql`upd`, { sandboxId, teamId: row.teamId, kind: "provider_error", extensionId, reason: `teardown failed, will retry: ${text}`, at: failedAt })}`,
      );
      throw new RetryLaterError(text, isProviderError(err) ? err.details.retryAfterMs : undefined);
    }
  }
  await settleSandbox(rt, sandboxId, { outcome: result.outcome, providerEndedAt: result.endedAt, reason: why });
}

/**
 * `last_seen_at` moved up to `at` (never back): a settle that finds the sandbox already gone
 * bills at least to it. Used where the provider did not confirm an end at `at`.
 */
const billableTo = (at: Date) => sql`greatest(coalesce(last_seen_at, ${ts(at)}), ${ts(at)})`;

/** Flags a sandbox whose teardown a person must fix; `failedAt` is the attempt that could not end it. */
async function flagAttention(rt: Runtime, row: Row, reason: string, failedAt: Date) {
  const now = rt.clock.now();
  await rt.db.transaction(async (tx) => {
    await tx.update(sandboxes).set({ attentionReason: reason, lastSeenAt: billableTo(failedAt), updatedAt: now }).where(eq(sandboxes.id, row.id));
    await recordEvent(tx, { sandboxId: row.id, teamId: row.teamId, kind: "attention", extensionId: row.extensionId, reason, at: now });
  });
  rt.logger.error({ sandboxId: row.id, extensionId: row.extensionId, reason }, "teardown needs attention");
}

/**
 * Closes the ledger for a sandbox whose end is confirmed: usage record, debit, hold release and
 * final state in one transaction, each keyed by the sandbox id so a second settle is a no-op
 * (invariant 3). Billing runs from the provider start to the confirmed end, capped at the
 * expiry the hold was sized for.
 */
/** 8997 → "8.997 s": exact, in the unit the rates are quoted in. */
function secondsText(ms: number): string {
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, "")} s`;
}

export async function settleSandbox(
  rt: Runtime,
  sandboxId: string,
  end: { outcome: "terminated" | "already_gone"; providerEndedAt: Date | null; reason: string; forceState?: "lost" },
): Promise<void> {
  const now = rt.clock.now();
  await rt.db.transaction(async (tx) => {
    const [row] = await tx.select().from(sandboxes).where(eq(sandboxes.id, sandboxId)).for("update");
    if (!row || TERMINAL.includes(row.state) || !row.startedAt || !row.extensionId) return;
    const ext = rt.catalog.extensions.get(row.extensionId)!;
    const profile = rt.catalog.profiles.get(row.profileId)!;
    const adapter = adapterOrThrow(rt, row.extensionId);
    const spec = specOf(profile);

    // A provider that no longer knows the sandbox cannot say when it ended: bill up to when it
    // was last known in our custody and not confirmed ended — seen running (ready, a reconciler
    // pass), or a listing or teardown attempt that failed (nothing showed it gone then).
    const knownEnd = end.providerEndedAt ?? (end.outcome === "already_gone" ? (row.lastSeenAt ?? row.readyAt ?? row.startedAt) : null);
    let endedAt = knownEnd && knownEnd < now ? knownEnd : now;
    if (row.expiresAt && endedAt > row.expiresAt) endedAt = row.expiresAt;
    if (endedAt < row.startedAt) endedAt = row.startedAt;
    // Gone before anyone asked: before its expiry, and before any destroy request. A provider that
    // says when it ended (Modal) shows whether a destroy found it already ended (then the destroy
    // did not end it: lost); one that only answers not-found (E2B) leaves that open, and a
    // requested destroy counts as done, as before.
    const endedBeforeAsked = row.destroyRequestedAt
      ? end.providerEndedAt !== null && endedAt.getTime() < row.destroyRequestedAt.getTime() - 1000
      : true;
    const endedEarly =
      end.outcome === "already_gone" && row.expiresAt !== null && endedAt.getTime() < row.expiresAt.getTime() - 1000 && endedBeforeAsked;
    const finalState: SandboxState = end.forceState ?? (endedEarly ? "lost" : "destroyed");
    const lostReason = end.forceState ? end.reason : "the provider ended it before its TTL";

    const meter = adapter.meterActual({ spec, rates: ext.rates(spec.gpuType), startedAt: row.startedAt, endedAt });
    let cost = meter.costMicros;
    if (cost > row.holdMicros) {
      // Cannot happen while billing is capped at expiresAt; never debit beyond the hold.
      rt.logger.error({ sandboxId, costMicros: cost.toString(), holdMicros: row.holdMicros.toString() }, "metered cost above hold; capped");
      cost = row.holdMicros;
    }

    const inserted = await tx
      .insert(usageRecords)
      .values({
        id: newId("use", now),
        sandboxId,
        teamId: row.teamId,
        extensionId: row.extensionId,
        profileId: row.profileId,
        providerSandboxId: row.providerSandboxId,
        startedAt: row.startedAt,
        endedAt,
        durationMs: meter.durationMs,
        resources: row.resources,
        rateCardVersion: row.rateCardVersion ?? ext.pricing.rate_card_version,
        currency: ext.pricing.currency,
        costMicros: cost,
        credentialSource: row.credentialSource ?? "none",
        endReason: finalState === "lost" ? `lost: ${lostReason}` : end.reason,
        idempotencyKey: `usage:${sandboxId}`,
      })
      .onConflictDoNothing()
      .returning({ id: usageRecords.id });
    if (inserted.length === 0) return;
    // The fin-hub outbox row, in the same transaction as the debit (server/services/fin-hub.ts).
    await enqueueForFinHub(tx, { usageRecordId: inserted[0]!.id, sandboxId, teamId: row.teamId, at: now });

    // Debit and hold-release ledger rows (idempotent keys), final state, its event and the team
    // balance in one statement, the last before commit: the team's balance row stays locked for
    // one round trip, not for the whole settle.
    const reason =
      finalState === "lost"
        ? `lost: ${lostReason}; billed $${formatMicros(cost)} for ${secondsText(meter.durationMs)}`
        : `${end.reason}; billed $${formatMicros(cost)} for ${secondsText(meter.durationMs)}`;
    await tx.execute(
      sql`with debit as (
            insert into ${creditLedger} (id, team_id, kind, amount_micros, sandbox_id, idempotency_key)
            values (${newId("led")}, ${row.teamId}, 'debit', ${int8(cost)}, ${sandboxId}, ${`debit:${sandboxId}`}),
                   (${newId("led")}, ${row.teamId}, 'hold_release', ${int8(row.holdMicros)}, ${sandboxId}, ${`release:${sandboxId}`})
            on conflict (idempotency_key) do nothing
          ), sbx as (
            update ${sandboxes}
            set state = ${finalState}, ended_at = ${ts(endedAt)}, cost_micros = ${int8(cost)}, hold_micros = 0, updated_at = ${ts(now)}
            where id = ${sandboxId}
          ), ev as (
            ${eventsValues([
              {
                sandboxId,
                teamId: row.teamId,
                kind: "state",
                fromState: row.state,
                toState: finalState,
                extensionId: row.extensionId,
                reason,
                data: { extension_id: row.extensionId, costMicros: cost.toString(), durationMs: meter.durationMs, rateCardVersion: row.rateCardVersion },
                at: now,
              },
            ])}
          )
          update ${teamCredits}
          set held_micros = held_micros - ${int8(row.holdMicros)}, balance_micros = balance_micros - ${int8(cost)}, updated_at = now()
          where team_id = ${row.teamId}`,
    );
  });
}

/**
 * The DB-driven backstop (invariant 6): finds sandboxes past their expiry that the delayed job
 * missed, and requests that nobody re-enqueued, and queues them again. Job ids dedupe against
 * jobs still in Redis.
 */
export async function sweep(rt: Runtime, opts: { requestedStaleMs?: number; limit?: number } = {}) {
  const now = rt.clock.now();
  const limit = opts.limit ?? 1000;
  const expired = await rt.db
    .select({ id: sandboxes.id, expiresAt: sandboxes.expiresAt })
    .from(sandboxes)
    .where(
      and(
        inArray(sandboxes.state, ["ready", "destroying"]),
        sql`(${sandboxes.expiresAt} <= ${now} or ${sandboxes.destroyRequestedAt} is not null)`,
        isNull(sandboxes.attentionReason),
      ),
    )
    .limit(limit);
  const staleBefore = new Date(now.getTime() - (opts.requestedStaleMs ?? 30_000));
  const stale = await rt.db
    .select({ id: sandboxes.id })
    .from(sandboxes)
    .where(and(inArray(sandboxes.state, ["requested", "provisioning"]), sql`${sandboxes.updatedAt} <= ${staleBefore}`))
    .limit(limit);

  const teardownIds: string[] = [];
  for (const { id, expiresAt } of expired) {
    // A teardown already queued (waiting, delayed for a retry, or running) will finish the job;
    // a second one would only call the provider again.
    if (await hasPendingTeardown(rt, id, expiresAt)) continue;
    await rt.queue.enqueueTeardown(id, "sweep");
    teardownIds.push(id);
  }
  for (const { id } of stale) await rt.queue.enqueueProvision(id);
  return { teardownIds, provisionIds: stale.map((r) => r.id) };
}

async function hasPendingTeardown(rt: Runtime, sandboxId: string, expiresAt: Date | null): Promise<boolean> {
  const ids = [jobIds.destroy(sandboxId), `sweep-${sandboxId}`, ...(expiresAt ? [jobIds.ttl(sandboxId, expiresAt)] : [])];
  for (const jobId of ids) {
    const job = await rt.queue.queue.getJob(jobId);
    if (!job) continue;
    const state = await job.getState();
    if (state === "waiting" || state === "delayed" || state === "active" || state === "prioritized") return true;
  }
  return false;
}

