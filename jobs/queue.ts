import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { jobCatalog, jobIds, LIFECYCLE_QUEUE, type JobName, type JobPayload, type TeardownReason } from "./catalog";

/** BullMQ key prefix wrapped in a hash tag, so every key of a queue lands in one Redis Cluster slot. */
export const bullPrefix = (prefix: string) => `{${prefix}}`;

export function createQueueConnection(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest: null on connections that block (workers).
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

/** Producer side of the lifecycle queue: services enqueue through this, never through BullMQ directly. */
export class LifecycleQueue {
  readonly queue: Queue;
  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue(LIFECYCLE_QUEUE, { connection, prefix: bullPrefix(prefix) });
  }

  private add<N extends JobName>(name: N, data: JobPayload<N>, opts: { jobId: string; delay?: number }) {
    const spec = jobCatalog[name];
    return this.queue.add(name, spec.payload.parse(data) as JobPayload<N>, {
      jobId: opts.jobId,
      delay: opts.delay,
      attempts: spec.attempts,
      backoff: { type: "sandboxer", delay: spec.backoffMs },
      removeOnComplete: true,
      // Failures are recorded as sandbox events in the DB; removing the job frees its id so the
      // sweep can enqueue the same intent again.
      removeOnFail: true,
    });
  }

  enqueueProvision(sandboxId: string) {
    return this.add("sandbox.provision", { sandboxId }, { jobId: jobIds.provision(sandboxId) });
  }

  /** Teardown at `expiresAt` (TTL), or now for a requested destroy / sweep. */
  enqueueTeardown(sandboxId: string, reason: TeardownReason, expiresAt?: Date) {
    if (reason === "ttl" && expiresAt) {
      const delay = Math.max(0, expiresAt.getTime() - Date.now());
      return this.add("sandbox.teardown", { sandboxId, reason }, { jobId: jobIds.ttl(sandboxId, expiresAt), delay });
    }
    const jobId = reason === "requested" ? jobIds.destroy(sandboxId) : `sweep-${sandboxId}`;
    return this.add("sandbox.teardown", { sandboxId, reason }, { jobId });
  }

  /** Writes a finance export file in the worker (server/services/exports.ts). */
  enqueueUsageExport(exportId: string) {
    return this.add("export.usage", { exportId }, { jobId: jobIds.usageExport(exportId) });
  }

  close() {
    return this.queue.close();
  }
}
