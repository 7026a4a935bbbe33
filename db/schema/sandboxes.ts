import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { organization } from "./auth";

export const sandboxStates = [
  "requested",
  "provisioning",
  "ready",
  "destroying",
  "destroyed",
  "failed",
  "lost",
] as const;
export type SandboxState = (typeof sandboxStates)[number];

/** Resources as stored: integer units only, so cost arithmetic stays exact. */
export type StoredResources = { vcpu: number; memoryMiB: number; gpu: number; gpuType: string | null };

export type RoutingCandidate = {
  extensionId: string;
  outcome: "chosen" | "skipped" | "failed";
  reason: string;
  estimateMicros: string | null;
};
export type RoutingDecision = {
  strategy: string;
  decidedAt: string;
  candidates: RoutingCandidate[];
};

export const sandboxes = pgTable(
  "sandboxes",
  {
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => organization.id, { onDelete: "cascade" }),
    createdBy: text("created_by"),
    profileId: text("profile_id").notNull(),
    state: text("state", { enum: sandboxStates }).notNull(),
    extensionId: text("extension_id"),
    providerSandboxId: text("provider_sandbox_id"),
    credentialSource: text("credential_source"),
    resources: jsonb("resources").$type<StoredResources>().notNull(),
    template: text("template").notNull(),
    ttlSeconds: integer("ttl_seconds").notNull(),
    holdMicros: bigint("hold_micros", { mode: "bigint" }).notNull().default(sql`0`),
    estimateMicros: bigint("estimate_micros", { mode: "bigint" }).notNull().default(sql`0`),
    costMicros: bigint("cost_micros", { mode: "bigint" }),
    rateCardVersion: text("rate_card_version"),
    routing: jsonb("routing").$type<RoutingDecision>(),
    failureReason: text("failure_reason"),
    /** Set when teardown hit an error a person must fix (e.g. revoked credentials). */
    attentionReason: text("attention_reason"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    readyAt: timestamp("ready_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    destroyRequestedAt: timestamp("destroy_requested_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("sandboxes_team_id_idx").on(t.teamId, t.id),
    index("sandboxes_state_expires_idx").on(t.state, t.expiresAt),
    uniqueIndex("sandboxes_provider_uq").on(t.extensionId, t.providerSandboxId),
  ],
);

export const sandboxEvents = pgTable(
  "sandbox_events",
  {
    id: text("id").primaryKey(),
    /** Insertion order; events written in the same millisecond still sort as they happened. */
    seq: bigserial("seq", { mode: "number" }).notNull(),
    sandboxId: text("sandbox_id")
      .notNull()
      .references(() => sandboxes.id, { onDelete: "cascade" }),
    teamId: text("team_id").notNull(),
    kind: text("kind").notNull(),
    fromState: text("from_state"),
    toState: text("to_state"),
    extensionId: text("extension_id"),
    reason: text("reason").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("sandbox_events_sandbox_idx").on(t.sandboxId, t.seq)],
);
