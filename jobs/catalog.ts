import { z } from "zod";

/**
 * Every job Sandboxer runs. Names (`domain.verb`) and payload shapes are contracts with jobs
 * already in Redis: never rename in place. Payloads carry ids only, never rows or secrets.
 */
export const LIFECYCLE_QUEUE = "lifecycle";

export const sandboxIdPayload = z.object({ sandboxId: z.string().regex(/^sbx_[a-z0-9]+$/) });

export const jobCatalog = {
  "sandbox.provision": {
    payload: sandboxIdPayload,
    /** Each attempt may create at most one provider sandbox, so this bounds creates per request. */
    attempts: 3,
    backoffMs: 1_000,
  },
  "sandbox.teardown": {
    payload: sandboxIdPayload.extend({ reason: z.enum(["ttl", "requested", "sweep"]) }),
    attempts: 12,
    backoffMs: 500,
  },
  "sandbox.sweep": {
    payload: z.object({}),
    attempts: 1,
    backoffMs: 0,
  },
  /** One scheduler per extension; a failed pass is simply followed by the next one. */
  "reconcile.extension": {
    payload: z.object({ extensionId: z.string().regex(/^ext\.[a-z0-9-]+$/) }),
    attempts: 1,
    backoffMs: 0,
  },
  /** One fin-hub delivery pass; scheduled only when SANDBOXER_FIN_HUB_URL is set. Batches keep their own retry state. */
  "billing.export": {
    payload: z.object({}),
    attempts: 1,
    backoffMs: 0,
  },
  /** Writes one finance export file; a failure is recorded on the export, not retried. */
  "export.usage": {
    payload: z.object({ exportId: z.string().regex(/^exp_[a-z0-9]+$/) }),
    attempts: 1,
    backoffMs: 0,
  },
} as const;

export type JobName = keyof typeof jobCatalog;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalog)[N]["payload"]>;
export type TeardownReason = JobPayload<"sandbox.teardown">["reason"];

/** Deterministic job ids: a duplicate enqueue of the same intent is a no-op in BullMQ. */
export const jobIds = {
  provision: (sandboxId: string) => `provision-${sandboxId}`,
  ttl: (sandboxId: string, expiresAt: Date) => `ttl-${sandboxId}-${expiresAt.getTime()}`,
  destroy: (sandboxId: string) => `destroy-${sandboxId}`,
  usageExport: (exportId: string) => `export-${exportId}`,
};

/** Longest backoff between teardown retries, so a sandbox never runs long unwatched. */
export const MAX_BACKOFF_MS = 60_000;
