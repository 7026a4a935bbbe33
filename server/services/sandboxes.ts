import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { creditLedger, sandboxEvents, sandboxes, teamCredits, type SandboxState } from "../../db/schema";
import type { Profile } from "../catalog/schema";
import { AppError } from "../errors";
import { newId } from "../ids";
import { formatMicros } from "../money";
import type { Runtime } from "../runtime";
import type { DbOrTx } from "../../db/client";
import { getBalance } from "./credits";
import { firstChoice, holdFor, planReason, planRoute, specOf, storedResourcesOf } from "./routing";
import { toEventView, toSandboxView } from "./sandbox-view";
import { columnsOf, eventsFrom, int8, jsonb, rowOf, rowsOf, text, ts } from "./sql-rows";

export type Actor = { teamId: string; userId: string | null };

export function resolveProfile(rt: Pick<Runtime, "catalog">, name: string): Profile {
  const id = name.startsWith("profile.") ? name : `profile.${name}`;
  const profile = rt.catalog.profiles.get(id);
  if (!profile) {
    const known = [...rt.catalog.profiles.keys()].join(", ");
    throw new AppError("INVALID_INPUT", `unknown profile "${name}" (known: ${known})`, { field: "profile" });
  }
  return profile;
}

/** TTL rules checked before anything is held or created (invariant 6). */
export function validateTtl(profile: Profile, ttlSeconds: number | undefined): number {
  const ttl = ttlSeconds ?? profile.ttl.default_seconds;
  if (!Number.isInteger(ttl) || ttl <= 0) {
    throw new AppError("INVALID_INPUT", `TTL must be a positive whole number of seconds, got ${ttl}`, { field: "ttlSeconds" });
  }
  if (ttl > profile.ttl.max_seconds) {
    throw new AppError("INVALID_INPUT", `TTL ${ttl}s is above ${profile.id}'s maximum of ${profile.ttl.max_seconds}s`, {
      field: "ttlSeconds",
    });
  }
  return ttl;
}

/** Estimate and routing preview for a profile and TTL, with nothing held or created. */
export async function previewCreate(rt: Runtime, teamId: string, profileName: string, ttlSeconds?: number) {
  const profile = resolveProfile(rt, profileName);
  const ttl = validateTtl(profile, ttlSeconds);
  const plan = await planRoute(rt, profile, ttl, { teamId });
  const chosen = firstChoice(plan);
  return {
    profileId: profile.id,
    ttlSeconds: ttl,
    strategy: plan.strategy,
    chosenExtensionId: chosen?.extension.id ?? null,
    holdMicros: holdFor(plan).toString(),
    candidates: plan.candidates.map((c) => ({
      extensionId: c.extension.id,
      eligible: c.eligible,
      reason: planReason(plan, c),
      estimateMicros: c.estimateMicros?.toString() ?? null,
    })),
  };
}

/**
 * Admission: validate, estimate, hold credits atomically, write the row, enqueue provisioning.
 * A rejected request leaves no row, no hold and makes no provider call.
 */
/**
 * A create with the caller's idempotency key: the first request with a key creates, a repeat
 * (a double click, a retried request) returns that sandbox and holds nothing more. Repeats are
 * serialized by a transaction-scoped advisory lock on (team, key); the unique index on
 * (team_id, request_key) is the backstop.
 */
export async function createSandbox(rt: Runtime, actor: Actor, input: { profile: string; ttlSeconds?: number; idempotencyKey?: string }) {
  const key = input.idempotencyKey;
  if (!key) return createSandboxOnce(rt, rt.db, actor, await planCreate(rt, actor, input), input);
  // A repeat answers with the first sandbox whatever has changed since (credits, keys, limits).
  const repeat = async (db: DbOrTx) => {
    const [existing] = await db
      .select()
      .from(sandboxes)
      .where(and(eq(sandboxes.teamId, actor.teamId), eq(sandboxes.requestKey, key)));
    if (!existing) return null;
    const profile = resolveProfile(rt, input.profile);
    const ttl = input.ttlSeconds ?? profile.ttl.default_seconds;
    const firstTtl = existing.requestTtlSeconds ?? ttl; // rows from before the column: the profile is all we can compare
    if (existing.profileId !== profile.id || firstTtl !== ttl) {
      throw new AppError(
        "CONFLICT",
        `idempotency key already used for ${existing.id} on ${existing.profileId} with TTL ${firstTtl}s; use a new key for a different request`,
        { field: "idempotencyKey" },
      );
    }
    return toSandboxView(rt, existing);
  };
  const seen = await repeat(rt.db);
  if (seen) return seen;
  // Validation and the route plan (which reads the team's credential bindings) come before the
  // transaction, on their own connection: embedded PGlite has only one, held by the transaction.
  const planned = await planCreate(rt, actor, input);
  let enqueue = false;
  const view = await rt.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`sbx-create:${actor.teamId}:${key}`}, 0))`);
    const existing = await repeat(tx);
    if (existing) return existing;
    enqueue = true;
    return createSandboxOnce(rt, tx, actor, planned, input, { enqueue: false });
  });
  // After commit, so the job never looks for a row it cannot see yet.
  if (enqueue) await enqueueProvisionOrLeaveToSweep(rt, view.id);
  return view;
}

async function enqueueProvisionOrLeaveToSweep(rt: Runtime, id: string) {
  try {
    await rt.queue.enqueueProvision(id);
  } catch (err) {
    // The row is the source of truth: the sweep re-enqueues requested sandboxes it finds idle.
    rt.logger.warn({ sandboxId: id, err: { message: (err as Error).message } }, "provision enqueue failed; sweep will retry");
  }
}

async function planCreate(rt: Runtime, actor: Actor, input: { profile: string; ttlSeconds?: number }) {
  const profile = resolveProfile(rt, input.profile);
  const ttl = validateTtl(profile, input.ttlSeconds);
  // Admission needs eligibility and the hold; cool-downs only steer routing, in the job.
  const plan = await planRoute(rt, profile, ttl, { teamId: actor.teamId, cooldowns: false });
  const hold = holdFor(plan);
  if (!plan.candidates.some((c) => c.eligible)) {
    const why = plan.candidates.map((c) => `${c.extension.id}: ${c.reason}`).join("; ");
    throw new AppError("NO_ELIGIBLE_PROVIDER", `no provider on ${profile.id}'s route can run this request (${why})`);
  }
  return { profile, ttl, hold };
}

async function createSandboxOnce(
  rt: Runtime,
  db: DbOrTx,
  actor: Actor,
  { profile, ttl, hold }: Awaited<ReturnType<typeof planCreate>>,
  input: { idempotencyKey?: string },
  opts: { enqueue: boolean } = { enqueue: true },
) {

  const now = rt.clock.now();
  const id = newId("sbx", now);
  // Hold, hold ledger row, sandbox row and its first event in ONE statement: atomic without a
  // transaction, and the team's balance row is locked only while it runs (every create of a
  // team goes through that row). The conditional UPDATE never lets available credit go below
  // zero however many creates race (invariant 2); when it matches nothing, nothing is written.
  const [raw] = await rowsOf(
    db,
    sql`with hold as (
          update ${teamCredits} set held_micros = held_micros + ${int8(hold)}, updated_at = now()
          where team_id = ${actor.teamId} and balance_micros - held_micros >= ${int8(hold)}
          returning team_id
        ), ledger as (
          insert into ${creditLedger} (id, team_id, kind, amount_micros, sandbox_id, idempotency_key, actor_id)
          select ${newId("led")}, team_id, 'hold', ${int8(hold)}, ${id}, ${`hold:${id}`}, ${text(actor.userId)} from hold
          on conflict (idempotency_key) do nothing
        ), sbx as (
          insert into ${sandboxes} (id, team_id, created_by, profile_id, state, resources, template, ttl_seconds, hold_micros, estimate_micros, request_key, request_ttl_seconds, created_at, updated_at)
          select ${id}, team_id, ${text(actor.userId)}, ${profile.id}, 'requested', ${jsonb(storedResourcesOf(profile))}, ${profile.template}, ${ttl}::int,
                 ${int8(hold)}, ${int8(hold)}, ${text(input.idempotencyKey ?? null)}, ${input.idempotencyKey ? ttl : null}::int, ${ts(now)}, ${ts(now)}
          from hold
          returning ${columnsOf(sandboxes)}
        ), ev as (
          ${eventsFrom(sql`hold`, {
            sandboxId: id,
            teamId: actor.teamId,
            kind: "state",
            toState: "requested",
            reason: `requested on ${profile.id} with TTL ${ttl}s; held $${formatMicros(hold)}`,
            at: now,
          })}
        )
        select * from sbx`,
  );
  if (!raw) {
    const balance = await getBalance(db, actor.teamId);
    throw new AppError(
      "INSUFFICIENT_CREDITS",
      `insufficient credits: this needs a hold of $${formatMicros(hold)} but $${formatMicros(balance.availableMicros)} is available`,
      { neededMicros: hold.toString(), availableMicros: balance.availableMicros.toString() },
    );
  }
  const row = rowOf(sandboxes, raw);
  if (opts.enqueue) await enqueueProvisionOrLeaveToSweep(rt, id);
  rt.logger.info({ sandboxId: id, teamId: actor.teamId, profileId: profile.id, ttlSeconds: ttl }, "sandbox requested");
  return toSandboxView(rt, row);
}

export async function getSandboxRowOrThrow(rt: Pick<Runtime, "db">, teamId: string, id: string) {
  const [row] = await rt.db
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.id, id), eq(sandboxes.teamId, teamId)));
  // Another team's sandbox is indistinguishable from a missing one (invariant 9).
  if (!row) throw new AppError("NOT_FOUND", `sandbox ${id} not found`);
  return row;
}

export async function getSandbox(rt: Runtime, teamId: string, id: string) {
  const row = await getSandboxRowOrThrow(rt, teamId, id);
  const events = await rt.db
    .select()
    .from(sandboxEvents)
    .where(eq(sandboxEvents.sandboxId, id))
    .orderBy(asc(sandboxEvents.seq));
  return { ...toSandboxView(rt, row), events: events.map(toEventView) };
}

export type ListFilter = {
  state?: SandboxState[];
  profile?: string;
  extension?: string;
  cursor?: string;
  limit?: number;
};

/** Newest first; `cursor` is the last id of the previous page (ids sort by creation time). */
export async function listSandboxes(rt: Runtime, teamId: string, filter: ListFilter) {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  const conditions = [eq(sandboxes.teamId, teamId)];
  if (filter.state?.length) conditions.push(inArray(sandboxes.state, filter.state));
  if (filter.profile) conditions.push(eq(sandboxes.profileId, filter.profile.startsWith("profile.") ? filter.profile : `profile.${filter.profile}`));
  if (filter.extension) conditions.push(eq(sandboxes.extensionId, filter.extension));
  if (filter.cursor) conditions.push(lt(sandboxes.id, filter.cursor));
  const rows = await rt.db
    .select()
    .from(sandboxes)
    .where(and(...conditions))
    .orderBy(desc(sandboxes.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => toSandboxView(rt, r)),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** Asks for a teardown now. Idempotent: destroying a finished sandbox returns it unchanged. */
export async function destroySandbox(rt: Runtime, actor: Actor, id: string) {
  const now = rt.clock.now();
  // Mark the request and write its event in one statement; only a live sandbox of this team
  // whose destroy was not yet requested matches.
  const [raw] = await rowsOf(
    rt.db,
    sql`with upd as (
          update ${sandboxes} set destroy_requested_at = ${ts(now)}, updated_at = ${ts(now)}
          where id = ${id} and team_id = ${actor.teamId} and destroy_requested_at is null
            and state not in ('destroyed', 'failed', 'lost')
          returning ${columnsOf(sandboxes)}
        ), ev as (
          ${eventsFrom(sql`upd`, {
            sandboxId: id,
            teamId: actor.teamId,
            kind: "destroy_requested",
            reason: "destroy requested by a user",
            data: actor.userId ? { userId: actor.userId } : undefined,
            at: now,
          })}
        )
        select * from upd`,
  );
  const row = raw ? rowOf(sandboxes, raw) : await getSandboxRowOrThrow(rt, actor.teamId, id);
  if (["destroyed", "failed", "lost"].includes(row.state)) return toSandboxView(rt, row);
  await rt.queue.enqueueTeardown(id, "requested");
  return toSandboxView(rt, row);
}

export { specOf };
