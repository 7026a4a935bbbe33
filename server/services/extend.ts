import { and, eq, sql } from "drizzle-orm";
import { sandboxes, teamCredits } from "../../db/schema";
import { AppError } from "../errors";
import { newId } from "../ids";
import { formatMicros } from "../money";
import { withScrubbedErrors } from "../secrets";
import type { Runtime } from "../runtime";
import { resolveTeamCredentials } from "./credentials";
import { appendLedger, placeHold, releaseHoldPart } from "./credits";
import { recordEvent } from "./events";
import { PROVIDER_TIMEOUT_GRACE_S } from "./lifecycle";
import { specOf } from "./routing";
import { getSandboxRowOrThrow, type Actor } from "./sandboxes";
import { toSandboxView } from "./sandbox-view";
import { formatDuration, formatTime } from "../../lib/format";

/**
 * Extends a ready sandbox's TTL by `bySeconds`: grows the hold first (refused when credits are
 * short), then moves the provider-side end, then the expiry and the TTL job. A provider that
 * refuses gives the added hold back.
 */
export async function extendSandbox(rt: Runtime, actor: Actor, id: string, bySeconds: number) {
  if (!Number.isInteger(bySeconds) || bySeconds <= 0) {
    throw new AppError("INVALID_INPUT", `extension must be a positive whole number of seconds, got ${bySeconds}`, { field: "bySeconds" });
  }
  const row = await getSandboxRowOrThrow(rt, actor.teamId, id);
  if (row.state !== "ready" || !row.expiresAt || !row.extensionId || !row.providerSandboxId) {
    throw new AppError("CONFLICT", `sandbox ${id} is ${row.state}; only a ready sandbox can be extended`);
  }
  const ext = rt.catalog.extensions.get(row.extensionId)!;
  const adapter = rt.adapters.get(row.extensionId);
  const profile = rt.catalog.profiles.get(row.profileId)!;
  if (!adapter?.canExtend || !ext.limits.can_extend || !adapter.extend) {
    throw new AppError("CANNOT_EXTEND", `${row.extensionId} cannot extend a running sandbox; create a new one with a longer TTL`);
  }
  const newTtl = row.ttlSeconds + bySeconds;
  const maxTtl = Math.min(profile.ttl.max_seconds, ext.limits.max_ttl_seconds);
  if (newTtl > maxTtl) {
    throw new AppError(
      "INVALID_INPUT",
      `TTL would become ${newTtl}s, above the maximum of ${maxTtl}s for ${profile.id} on ${row.extensionId}`,
      { field: "bySeconds" },
    );
  }

  const spec = specOf(profile);
  const newHold = adapter.estimateCost(spec, ext.rates(spec.gpuType), newTtl);
  const growth = newHold > row.holdMicros ? newHold - row.holdMicros : 0n;
  // One key per extend request (an undone extend may be asked again for the same TTL).
  const growKey = `hold_grow:${id}:${newTtl}:${newId("ext")}`;
  const wantedEnd = new Date(row.expiresAt.getTime() + bySeconds * 1000);
  // Reserve the extension under the row lock: the hold grows and the TTL moves in one step, so a
  // concurrent extend sees the new TTL and is told to retry instead of silently doing nothing.
  await rt.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(sandboxes).where(eq(sandboxes.id, id)).for("update");
    if (!locked || locked.state !== "ready" || locked.ttlSeconds !== row.ttlSeconds) {
      throw new AppError("CONFLICT", `sandbox ${id} changed while extending (another extend or a teardown); check it and try again`);
    }
    if (growth > 0n) {
      await placeHold(tx, row.teamId, growth);
      await appendLedger(tx, { teamId: row.teamId, kind: "hold_grow", amountMicros: growth, sandboxId: id, idempotencyKey: growKey, actorId: actor.userId ?? undefined });
    }
    await tx
      .update(sandboxes)
      .set({ holdMicros: sql`${sandboxes.holdMicros} + ${growth}`, estimateMicros: newHold, ttlSeconds: newTtl, expiresAt: wantedEnd, updatedAt: rt.clock.now() })
      .where(eq(sandboxes.id, id));
  });

  let effectiveEnd: Date;
  try {
    const resolved = await resolveTeamCredentials(rt, row.teamId, ext);
    if (!resolved.ok) throw new Error(resolved.reason);
    const ctx = { logger: rt.logger.child({ sandboxId: id, extensionId: ext.id }), clock: rt.clock, credentials: resolved.values };
    const extendTo = new Date(wantedEnd.getTime() + PROVIDER_TIMEOUT_GRACE_S * 1000);
    const res = await withScrubbedErrors(resolved.values, () => adapter.extend!(ctx, row.providerSandboxId!, extendTo));
    // A provider may clamp to its own maximum; keep our expiry inside what it granted.
    const granted = new Date(res.endsAt.getTime() - PROVIDER_TIMEOUT_GRACE_S * 1000);
    effectiveEnd = granted < wantedEnd ? granted : wantedEnd;
  } catch (err) {
    // Give the reservation back: TTL, expiry and the hold it grew.
    await rt.db.transaction(async (tx) => {
      const [locked] = await tx.select().from(sandboxes).where(eq(sandboxes.id, id)).for("update");
      if (!locked || locked.state !== "ready" || locked.ttlSeconds !== newTtl) return;
      await tx
        .update(sandboxes)
        .set({ ttlSeconds: row.ttlSeconds, expiresAt: row.expiresAt, holdMicros: sql`${sandboxes.holdMicros} - ${growth}`, estimateMicros: row.estimateMicros, updatedAt: rt.clock.now() })
        .where(eq(sandboxes.id, id));
      if (growth === 0n) return;
      await releaseHoldPart(tx, { teamId: row.teamId, sandboxId: id, amountMicros: growth, idempotencyKey: `${growKey}:undo` });
    });
    rt.logger.warn({ sandboxId: id, err: { message: (err as Error).message } }, "provider refused extend");
    throw new AppError("CANNOT_EXTEND", `the provider did not extend the sandbox; nothing changed`);
  }

  const effectiveTtl = Math.round((effectiveEnd.getTime() - row.startedAt!.getTime()) / 1000);
  const now = rt.clock.now();
  // A provider that granted less than asked (E2B clamps to its plan): the hold was grown for the
  // TTL asked; give back what the granted TTL does not need (never below the hold before this
  // extend), so the hold and the estimate match the TTL the sandbox really has.
  const clamped = effectiveTtl < newTtl;
  const grantedEstimate = clamped ? adapter.estimateCost(spec, ext.rates(spec.gpuType), effectiveTtl) : newHold;
  const keptHold = grantedEstimate > row.holdMicros ? grantedEstimate : row.holdMicros;
  const giveBack = clamped && row.holdMicros + growth > keptHold ? row.holdMicros + growth - keptHold : 0n;
  await rt.db.transaction(async (tx) => {
    const updated = await tx
      .update(sandboxes)
      .set({
        ttlSeconds: effectiveTtl,
        expiresAt: effectiveEnd,
        updatedAt: now,
        ...(clamped ? { estimateMicros: grantedEstimate, holdMicros: sql`${sandboxes.holdMicros} - ${giveBack}` } : {}),
      })
      .where(and(eq(sandboxes.id, id), eq(sandboxes.state, "ready"), eq(sandboxes.ttlSeconds, newTtl)))
      .returning({ id: sandboxes.id });
    if (updated.length > 0 && giveBack > 0n) {
      await releaseHoldPart(tx, { teamId: row.teamId, sandboxId: id, amountMicros: giveBack, idempotencyKey: `${growKey}:clamped` });
    }
    await recordEvent(tx, {
      sandboxId: id,
      teamId: row.teamId,
      kind: "extended",
      extensionId: row.extensionId,
      reason: clamped
        ? `TTL extended to ${formatDuration(effectiveTtl)}, not the ${formatDuration(newTtl)} asked: ${row.extensionId} granted no more (expires ${formatTime(effectiveEnd)}); hold grew by $${formatMicros(growth - giveBack)}`
        : `TTL extended to ${formatDuration(effectiveTtl)} (expires ${formatTime(effectiveEnd)}); hold grew by $${formatMicros(growth)}`,
      at: now,
    });
  });
  await rt.queue.enqueueTeardown(id, "ttl", effectiveEnd);
  return toSandboxView(rt, await getSandboxRowOrThrow(rt, actor.teamId, id));
}
