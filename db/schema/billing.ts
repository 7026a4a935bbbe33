import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgSequence, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organization } from "./auth";
import { usageRecords } from "./usage";

/**
 * Batch sequence numbers: monotonic per installation, taken when a batch is cut. Claims run in
 * parallel, so a claim that rolls back leaves a gap; a gap is never a lost batch.
 */
export const finHubBatchSeq = pgSequence("fin_hub_batch_seq", { startWith: 1 });

export const finHubBatchStatuses = ["pending", "sent", "dead"] as const;
export type FinHubBatchStatus = (typeof finHubBatchStatuses)[number];

/**
 * One signed POST to fin-hub. The body is serialized once, when the batch is claimed, and stored:
 * every retry and re-send sends these exact bytes under the same id (the idempotency key) and
 * sequence number. `seq` is gapless and monotonic per installation (assigned under a lock).
 */
export const finHubBatches = pgTable(
  "fin_hub_batches",
  {
    id: text("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    status: text("status", { enum: finHubBatchStatuses }).notNull().default("pending"),
    recordCount: integer("record_count").notNull(),
    totalMicros: bigint("total_micros", { mode: "bigint" }).notNull(),
    /** The exact request body (UTF-8 JSON). */
    body: text("body").notNull(),
    bodySha256: text("body_sha256").notNull(),
    /** Send attempts started since the batch was made (or last requeued by a person). */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull(),
    /** A sender owns the batch until then; a crashed sender's lease simply runs out. */
    leasedUntil: timestamp("leased_until", { withTimezone: true }),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    deadAt: timestamp("dead_at", { withTimezone: true }),
    requeuedAt: timestamp("requeued_at", { withTimezone: true }),
    requeuedBy: text("requeued_by"),
    requeueCount: integer("requeue_count").notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** The usage records in the batch: a record is exported when its batch is `sent`. */
    recordIds: text("record_ids").array().notNull().default(sql`'{}'::text[]`),
    /** Per team in the batch: records and micro-dollars (a decimal string), for team views. */
    teamTotals: jsonb("team_totals").$type<Record<string, { records: number; micros: string }>>().notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    uniqueIndex("fin_hub_batches_seq_uq").on(t.seq),
    index("fin_hub_batches_status_next_idx").on(t.status, t.nextAttemptAt),
    index("fin_hub_batches_team_totals_idx").using("gin", t.teamTotals),
  ],
);

/**
 * The transactional outbox: one row per usage record not yet in a fin-hub batch, written in the
 * settle transaction with the debit. The primary key makes a second row for the same record
 * impossible. Cutting a batch DELETEs its rows (… RETURNING, under row locks) in the transaction
 * that stores the batch, so a record can be taken by one batch only; from then on the batch's
 * `record_ids` and status say where it is. Records are exported once their batch is `sent`
 * (fin-hub answered 2xx).
 */
export const billingOutbox = pgTable(
  "billing_outbox",
  {
    usageRecordId: text("usage_record_id")
      .primaryKey()
      .references(() => usageRecords.id, { onDelete: "cascade" }),
    sandboxId: text("sandbox_id").notNull(),
    teamId: text("team_id").notNull(),
    /**
     * The record exactly as it goes to fin-hub (JSON), serialized once in the settle transaction,
     * so cutting a batch only concatenates. Null for rows migration 0003 backfilled: those are
     * serialized from the usage record when they are batched.
     */
    recordJson: text("record_json"),
    costMicros: bigint("cost_micros", { mode: "bigint" }),
    /**
     * The record's currency (also inside `record_json`), so cutting a batch groups the totals
     * by a column instead of pattern-matching every record's JSON. Null only for rows from
     * before migration 0008 that it could not read; the claim then falls back to the JSON.
     */
    currency: text("currency"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("billing_outbox_sandbox_uq").on(t.sandboxId), index("billing_outbox_team_idx").on(t.teamId)],
);

export const usageExportFormats = ["csv", "focus"] as const;
export type UsageExportFormat = (typeof usageExportFormats)[number];
export const usageExportStatuses = ["queued", "running", "ready", "failed"] as const;
export type UsageExportStatus = (typeof usageExportStatuses)[number];
export type UsageExportFilter = { from?: string; to?: string; extension?: string; profile?: string };

/** A finance export file: its filter, progress, and where it stands. Files live in <data dir>/exports. */
export const usageExports = pgTable(
  "usage_exports",
  {
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => organization.id, { onDelete: "cascade" }),
    requestedBy: text("requested_by"),
    format: text("format", { enum: usageExportFormats }).notNull(),
    filter: jsonb("filter").$type<UsageExportFilter>().notNull(),
    status: text("status", { enum: usageExportStatuses }).notNull().default("queued"),
    rowsTotal: integer("rows_total").notNull().default(0),
    rowsWritten: integer("rows_written").notNull().default(0),
    totalMicros: bigint("total_micros", { mode: "bigint" }).notNull().default(sql`0`),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
    sha256: text("sha256"),
    error: text("error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("usage_exports_team_created_idx").on(t.teamId, t.createdAt)],
);
