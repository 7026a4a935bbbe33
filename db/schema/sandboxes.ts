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
    /** The caller's idempotency key for the create (optional): a repeat returns this sandbox. */
    requestKey: text("request_key"),
    /** The TTL that create asked for (with a request key): a repeat asking another TTL is refused. */
    requestTtlSeconds: integer("request_ttl_seconds"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    readyAt: timestamp("ready_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    destroyRequestedAt: timestamp("destroy_requested_at", { withTimezone: true }),
    /**
     * The last time it was in our custody and not shown ended: seen running (ready, a reconciler
     * pass), or a listing / teardown attempt that failed. Billing end when the provider cannot say.
     */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("sandboxes_team_id_idx").on(t.teamId, t.id),
    index("sandboxes_state_expires_idx").on(t.state, t.expiresAt),
    uniqueIndex("sandboxes_provider_uq").on(t.extensionId, t.providerSandboxId),
    uniqueIndex("sandboxes_request_key_uq").on(t.teamId, t.requestKey),
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

export const findingKinds = ["orphan", "lost", "listing_failed"] as const;

/** What the reconciler found on a provider that the ledger did not expect, and what it did. */
export const reconcilerFindings = pgTable(
  "reconciler_findings",
  {
    id: text("id").primaryKey(),
    extensionId: text("extension_id").notNull(),
    kind: text("kind", { enum: findingKinds }).notNull(),
    teamId: text("team_id"),
    sandboxId: text("sandbox_id"),
    providerSandboxId: text("provider_sandbox_id"),
    /** For an orphan: how long it had been running on the provider when found, in ms. */
    observedRunMs: bigint("observed_run_ms", { mode: "number" }),
    action: text("action").notNull(),
    detail: text("detail"),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("reconciler_findings_ext_at_idx").on(t.extensionId, t.at), index("reconciler_findings_team_at_idx").on(t.teamId, t.at)],
);
