import { sql } from "drizzle-orm";
import { bigint, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organization } from "./auth";

/**
 * One row per team. Money is integer micro-dollars (see docs/money.md).
 * available = balanceMicros - heldMicros; admission never lets it go below zero.
 */
export const teamCredits = pgTable("team_credits", {
  teamId: text("team_id")
    .primaryKey()
    .references(() => organization.id, { onDelete: "cascade" }),
  balanceMicros: bigint("balance_micros", { mode: "bigint" }).notNull().default(sql`0`),
  heldMicros: bigint("held_micros", { mode: "bigint" }).notNull().default(sql`0`),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export const ledgerKinds = ["topup", "hold", "hold_grow", "hold_release", "debit"] as const;
export type LedgerKind = (typeof ledgerKinds)[number];

/**
 * Append-only record of every credit movement. `idempotencyKey` is deterministic
 * (e.g. `debit:sbx_…`) and unique, so a retried write can never land twice.
 */
export const creditLedger = pgTable(
  "credit_ledger",
  {
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => organization.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ledgerKinds }).notNull(),
    amountMicros: bigint("amount_micros", { mode: "bigint" }).notNull(),
    sandboxId: text("sandbox_id"),
    idempotencyKey: text("idempotency_key").notNull(),
    note: text("note"),
    actorId: text("actor_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("credit_ledger_idem_uq").on(t.idempotencyKey),
    index("credit_ledger_team_created_idx").on(t.teamId, t.createdAt),
  ],
);
