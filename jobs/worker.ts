import os from "node:os";
import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import { metrics } from "../server/metrics";
import type { Runtime } from "../server/runtime";
import {
  CapacityWait,
  PermanentJobError,
  provisionSandbox,
  RetryLaterError,
  sweep,
  teardownSandbox,
} from "../server/services/lifecycle";
import { reconcileExtension } from "../server/services/reconcile";
import { finHubConfig } from "../server/fin-hub/config";
import { writeUsageExport } from "../server/services/exports";
import { runFinHubExport } from "../server/services/fin-hub";
import { jobCatalog, LIFECYCLE_QUEUE, MAX_BACKOFF_MS, type JobName } from "./catalog";
import { bullPrefix, createQueueConnection } from "./queue";

/**
 * Exponential backoff from the job's base delay, never sooner than a provider's Retry-After
 * (carried by RetryLaterError), never longer than MAX_BACKOFF_MS.
 */
export function backoffDelay(
  attemptsMade: number,
  err: Error | undefined,
  job: Job | undefined,
): number {
  const spec = job ? jobCatalog[job.name as JobName] : undefined;
  const base = spec?.backoffMs ?? 1_000;
  const exponential = Math.min(MAX_BACKOFF_MS, base * 2 ** Math.max(0, attemptsMade - 1));
  const retryAfter = err instanceof RetryLaterError ? (err.retryAfterMs ?? 0) : 0;
  return Math.max(exponential, retryAfter);
}

async function runJob(rt: Runtime, job: Job, token: string | undefined): Promise<unknown> {
  const name = job.name as JobName;
  const spec = jobCatalog[name];
  if (!spec) throw new UnrecoverableError(`unknown job ${job.name}`);
  const parsed = spec.payload.safeParse(job.data);
  if (!parsed.success)
    throw new UnrecoverableError(`bad payload for ${job.name}: ${parsed.error.issues[0]?.message}`);
  const attempts = job.opts.attempts ?? 1;
  try {
    switch (name) {
      case "sandbox.provision":
        return await provisionSandbox(rt, job.data.sandboxId, {
          attempt: job.attemptsMade + 1,
          isLastAttempt: job.attemptsMade + 1 >= attempts,
        });
      case "sandbox.teardown":
        return await teardownSandbox(rt, job.data.sandboxId, job.data.reason);
      case "sandbox.sweep":
        return await sweep(rt, { requestedStaleMs: rt.env.SANDBOXER_REQUEST_STALE_MS });
      case "reconcile.extension":
        return await reconcileExtension(rt, job.data.extensionId);
      case "billing.export":
        return await runFinHubExport(rt);
      case "export.usage":
        return await writeUsageExport(rt, job.data.exportId);
    }
  } catch (err) {
    if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
    if (err instanceof CapacityWait && token) {
      // Back to the delayed set without spending an attempt: waiting for capacity is not a failure.
      await job.moveToDelayed(Date.now() + err.delayMs, token);
      throw new DelayedError();
    }
    throw err;
  }
}

export type StartedWorkers = {
  worker: Worker;
  /**
   * Stops taking jobs and waits up to `graceMs` for those in flight; any still running then are
   * handed back to the queue (moved to wait) so another worker runs them — none is left active.
   */
  close: (graceMs?: number) => Promise<void>;
};

/**
 * Starts the lifecycle worker and the sweep scheduler. Upserting the scheduler by a fixed id
 * means restarts never multiply it.
 */
export async function startWorkers(
  rt: Runtime,
  opts: { concurrency?: number; sweepEveryMs?: number; reconcileEveryMs?: number } = {},
): Promise<StartedWorkers> {
  const connection = createQueueConnection(rt.env.REDIS_URL);
  const inFlight = new Map<string, { job: Job; token: string | undefined }>();
  const worker = new Worker(
    LIFECYCLE_QUEUE,
    async (job, token) => {
      const key = `${job.id}`;
      inFlight.set(key, { job, token });
      let outcome = "error";
      try {
        const result = await runJob(rt, job, token);
        outcome = "completed";
        return result;
      } catch (err) {
        if (err instanceof DelayedError) outcome = "delayed";
        throw err;
      } finally {
        inFlight.delete(key);
        metrics().jobs.inc({ name: job.name, outcome });
      }
    },
    {
      connection,
      prefix: bullPrefix(rt.keyPrefix),
      concurrency: opts.concurrency ?? rt.env.SANDBOXER_WORKER_CONCURRENCY,
      // Jobs record which worker took them (`processedBy`); a dead worker's jobs return after the lock.
      name: rt.env.SANDBOXER_WORKER_NAME ?? `${os.hostname()}:${process.pid}`,
      lockDuration: rt.env.SANDBOXER_WORKER_LOCK_MS,
      stalledInterval: rt.env.SANDBOXER_WORKER_LOCK_MS,
      settings: {
        backoffStrategy: (attemptsMade, _type, err, job) =>
          backoffDelay(attemptsMade, err, job as Job | undefined),
      },
    },
  );
  worker.on("failed", (job, err) => {
    if (!job) return;
    const log = rt.logger.child({ jobName: job.name, jobId: job.id, attempt: job.attemptsMade });
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
    if (final) log.error({ err: { message: err.message } }, "job failed for good");
    else log.warn({ err: { message: err.message } }, "job failed; will retry");
  });
  worker.on("error", (err) => rt.logger.warn({ err: { message: err.message } }, "worker error"));
  const sweepEveryMs = opts.sweepEveryMs ?? rt.env.SANDBOXER_SWEEP_INTERVAL_MS;
  const schedulers = new Map<string, () => Promise<unknown>>([
    [
      "sandbox.sweep",
      () =>
        rt.queue.queue.upsertJobScheduler(
          "sandbox.sweep",
          { every: sweepEveryMs },
          { name: "sandbox.sweep", data: {}, opts: { removeOnComplete: true, removeOnFail: true } },
        ),
    ],
  ]);
  for (const extensionId of rt.adapters.keys()) {
    schedulers.set(`reconcile.extension:${extensionId}`, () =>
      rt.queue.queue.upsertJobScheduler(
        `reconcile.extension:${extensionId}`,
        { every: opts.reconcileEveryMs ?? rt.env.SANDBOXER_RECONCILE_INTERVAL_MS },
        {
          name: "reconcile.extension",
          data: { extensionId },
          opts: { removeOnComplete: true, removeOnFail: true },
        },
      ),
    );
  }
  for (const upsert of schedulers.values()) await upsert();
  // A flushed Redis, or one restarted without persistence, loses the schedulers with every job;
  // without the sweep nothing would re-enqueue the lost teardowns. Put missing ones back.
  const restoring = setInterval(() => {
    void (async () => {
      for (const [id, upsert] of schedulers) {
        if (await rt.queue.queue.getJobScheduler(id)) continue;
        rt.logger.warn({ scheduler: id }, "job scheduler missing from Redis; restoring it");
        await upsert();
      }
    })().catch((err: Error) =>
      rt.logger.warn({ err: { message: err.message } }, "could not check job schedulers"),
    );
  }, sweepEveryMs);
  restoring.unref();
  // fin-hub export: scheduled only when configured; removed when it is turned off.
  const finHub = finHubConfig(rt.env);
  if (finHub) {
    const upsertExport = () =>
      rt.queue.queue.upsertJobScheduler(
        "billing.export",
        { every: finHub.intervalMs },
        { name: "billing.export", data: {}, opts: { removeOnComplete: true, removeOnFail: true } },
      );
    schedulers.set("billing.export", upsertExport); // restored after a flush like the others
    await upsertExport();
  } else await rt.queue.queue.removeJobScheduler("billing.export");
  await worker.waitUntilReady();
  rt.logger.info({ concurrency: worker.opts.concurrency }, "worker started");
  return {
    worker,
    close: async (graceMs = 25_000) => {
      clearInterval(restoring);
      const graceful = worker.close().then(() => true);
      const inTime = await Promise.race([
        graceful,
        new Promise<false>((r) => setTimeout(() => r(false), graceMs).unref()),
      ]);
      if (!inTime) {
        rt.logger.warn(
          { jobs: inFlight.size },
          "grace period over; returning jobs in flight to the queue",
        );
        for (const { job, token } of inFlight.values()) {
          await job
            .moveToWait(token)
            .catch((err: Error) =>
              rt.logger.warn(
                { jobId: job.id, err: { message: err.message } },
                "could not return job",
              ),
            );
        }
        await worker.close(true);
      }
      connection.disconnect();
    },
  };
}
