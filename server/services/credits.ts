import { and, eq, sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { creditLedger, teamCredits, type LedgerKind } from "../../db/schema";
import { AppError } from "../errors";
import { newId } from "../ids";
import { formatMicros } from "../money";

export type Balance = { balanceMicros: bigint; heldMicros: bigint; availableMicros: bigint };

export async function getBalance(db: DbOrTx, teamId: string): Promise<Balance> {
  const [row] = await db.select().from(teamCredits).where(eq(teamCredits.teamId, teamId));
  const balanceMicros = row?.balanceMicros ?? 0n;
  const heldMicros = row?.heldMicros ?? 0n;
  return { balanceMicros, heldMicros, availableMicros: balanceMicros - heldMicros };
}

/**
 * Writes one ledger entry keyed by a deterministic idempotency key. Returns false when an entry
 * with that key already exists (the unique index decides, inside the caller's transaction).
 */
export async function appendLedger(
  tx: DbOrTx,
  entry: { teamId: string; kind: LedgerKind; amountMicros: bigint; idempotencyKey: string; sandboxId?: string; note?: string; actorId?: string },
): Promise<boolean> {
  const inserted = await tx
    .insert(creditLedger)
    .values({ id: newId("led"), ...entry })
    .onConflictDoNothing({ target: creditLedger.idempotencyKey })
    .returning({ id: creditLedger.id });
  return inserted.length === 1;
}

/** Adds credits. `idempotencyKey` lets a client retry a top-up without paying twice. */
export async function topUp(
  db: DbOrTx,
  input: { teamId: string; amountMicros: bigint; idempotencyKey: string; actorId?: string; note?: string },
): Promise<Balance> {
  if (input.amountMicros <= 0n) {
    throw new AppError("INVALID_INPUT", "top-up amount must be positive", { field: "amount" });
  }
  await db.transaction(async (tx) => {
    const fresh = await appendLedger(tx, {
      teamId: input.teamId,
      kind: "topup",
      amountMicros: input.amountMicros,
      idempotencyKey: `topup:${input.teamId}:${input.idempotencyKey}`,
      actorId: input.actorId,
      note: input.note,
    });
    if (!fresh) {
      // A retry with the same key is fine; the same key for a different amount is a client bug
      // that must not look like success.
      const [prior] = await tx
        .select({ amountMicros: creditLedger.amountMicros })
        .from(creditLedger)
        .where(eq(creditLedger.idempotencyKey, `topup:${input.teamId}:${input.idempotencyKey}`));
      if (prior && prior.amountMicros !== input.amountMicros) {
        throw new AppError(
          "CONFLICT",
          `idempotency key "${input.idempotencyKey}" was already used for a top-up of $${formatMicros(prior.amountMicros)}; use a new key for a different amount`,
          { field: "idempotencyKey" },
        );
      }
      return;
    }
    await tx
      .insert(teamCredits)
      .values({ teamId: input.teamId, balanceMicros: input.amountMicros })
      .onConflictDoUpdate({
        target: teamCredits.teamId,
        set: { balanceMicros: sql`${teamCredits.balanceMicros} + ${input.amountMicros}`, updatedAt: sql`now()` },
      });
  });
  return getBalance(db, input.teamId);
}

/**
 * Moves `amountMicros` from available to held, atomically: the conditional UPDATE never lets
 * available credit go below zero however many creates race (invariant 2).
 */
export async function placeHold(tx: DbOrTx, teamId: string, amountMicros: bigint): Promise<void> {
  const updated = await tx
    .update(teamCredits)
    .set({ heldMicros: sql`${teamCredits.heldMicros} + ${amountMicros}`, updatedAt: sql`now()` })
    .where(
      and(
        eq(teamCredits.teamId, teamId),
        sql`${teamCredits.balanceMicros} - ${teamCredits.heldMicros} >= ${amountMicros}`,
      ),
    )
    .returning({ teamId: teamCredits.teamId });
  if (updated.length === 0) {
    const balance = await getBalance(tx, teamId);
    throw new AppError(
      "INSUFFICIENT_CREDITS",
      `insufficient credits: this needs a hold of $${formatMicros(amountMicros)} but $${formatMicros(balance.availableMicros)} is available`,
      { neededMicros: amountMicros.toString(), availableMicros: balance.availableMicros.toString() },
    );
  }
}

/**
 * Gives part of a sandbox's hold back before it ends (an extend undone or cut short by the
 * provider): a `hold_release` ledger entry under `idempotencyKey`, and the team's held amount
 * lowered only when that entry is new, so a repeat releases nothing more.
 */
export async function releaseHoldPart(
  tx: DbOrTx,
  entry: { teamId: string; sandboxId: string; amountMicros: bigint; idempotencyKey: string },
): Promise<void> {
  const fresh = await appendLedger(tx, { ...entry, kind: "hold_release" });
  if (fresh) await tx.update(teamCredits).set({ heldMicros: sql`${teamCredits.heldMicros} - ${entry.amountMicros}` }).where(eq(teamCredits.teamId, entry.teamId));
}

/** Releases `holdMicros` and debits `debitMicros` in one statement. */
export async function settleCredits(tx: DbOrTx, teamId: string, holdMicros: bigint, debitMicros: bigint): Promise<void> {
  await tx
    .update(teamCredits)
    .set({
      heldMicros: sql`${teamCredits.heldMicros} - ${holdMicros}`,
      balanceMicros: sql`${teamCredits.balanceMicros} - ${debitMicros}`,
      updatedAt: sql`now()`,
    })
    .where(eq(teamCredits.teamId, teamId));
}
