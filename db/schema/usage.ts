import { sql } from "drizzle-orm";
import { bigint, date, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organization } from "./auth";
import type { StoredResources } from "./sandboxes";

/**
 * One row per metered sandbox, written in the same transaction as its debit.
 * `idempotencyKey` = `usage:<sandboxId>`; the unique index makes a second write impossible.
 */
export const usageRecords = pgTable(
  "usage_records",
  {
    id: text("id").primaryKey(),
    sandboxId: text("sandbox_id").notNull(),
    teamId: text("team_id")
      .notNull()
      .references(() => organization.id, { onDelete: "cascade" }),
    extensionId: text("extension_id").notNull(),
    profileId: text("profile_id").notNull(),
    providerSandboxId: text("provider_sandbox_id"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    endedAt: timestamp("ended_at", { withTimezone: true }).notNull(),
    durationMs: bigint("duration_ms", { mode: "number" }).notNull(),
    resources: jsonb("resources").$type<StoredResources>().notNull(),
    rateCardVersion: text("rate_card_version").notNull(),
    currency: text("currency").notNull(),
    costMicros: bigint("cost_micros", { mode: "bigint" }).notNull(),
    credentialSource: text("credential_source").notNull(),
    endReason: text("end_reason").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("usage_records_idem_uq").on(t.idempotencyKey),
    uniqueIndex("usage_records_sandbox_uq").on(t.sandboxId),
    index("usage_records_team_ended_idx").on(t.teamId, t.endedAt),
  ],
);

/**
 * Daily rollup of `usage_records` for the console's usage charts: one row per team, UTC day of
 * `ended_at`, extension and profile. Never written by application code: triggers on
 * usage_records (db/migrations/0007_usage_daily.sql) apply every insert (and any update, delete
 * or truncate) in the same statement, so it is always exactly the GROUP BY of usage_records.
 * No foreign key to the team: deleting a team cascades to its usage_records, whose delete
 * trigger empties the team's rollup rows.
 */
export const usageDaily = pgTable(
  "usage_daily",
  {
    teamId: text("team_id").notNull(),
    day: date("day", { mode: "string" }).notNull(),
    extensionId: text("extension_id").notNull(),
    profileId: text("profile_id").notNull(),
    records: bigint("records", { mode: "number" }).notNull().default(sql`0`),
    costMicros: bigint("cost_micros", { mode: "bigint" }).notNull().default(sql`0`),
    durationMs: bigint("duration_ms", { mode: "number" }).notNull().default(sql`0`),
  },
  (t) => [primaryKey({ columns: [t.teamId, t.day, t.extensionId, t.profileId] })],
);
