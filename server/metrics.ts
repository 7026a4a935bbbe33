import { createHash, timingSafeEqual } from "node:crypto";
import { sql } from "drizzle-orm";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { sandboxes } from "../db/schema";
import type { Runtime } from "./runtime";

type Metrics = {
  registry: Registry;
  providerErrors: Counter<"extension" | "kind" | "operation">;
  reconcilerFindings: Counter<"extension" | "kind">;
  ttlLateness: Histogram<never>;
  jobs: Counter<"name" | "outcome">;
  sandboxesByState: Gauge<"state" | "extension">;
  queueJobs: Gauge<"state">;
  queueOldestWaitingSeconds: Gauge<never>;
};

const KEY = Symbol.for("sandboxer.metrics");
const RUNTIME_KEY = Symbol.for("sandboxer.metrics.runtime");
type G = typeof globalThis & { [KEY]?: Metrics; [RUNTIME_KEY]?: Runtime };

/**
 * Process-wide Prometheus metrics (kept on globalThis: Next.js may load this module twice).
 * Counters count events in this process; the gauges are read from the DB and Redis at scrape
 * time, so every process reports the same shared truth.
 */
export function metrics(): Metrics {
  const g = globalThis as G;
  if (g[KEY]) return g[KEY];
  const registry = new Registry();
  const m: Metrics = {
    registry,
    providerErrors: new Counter({
      name: "sandboxer_provider_errors_total",
      help: "Provider errors seen by adapters, by extension, error kind and operation",
      labelNames: ["extension", "kind", "operation"],
      registers: [registry],
    }),
    reconcilerFindings: new Counter({
      name: "sandboxer_reconciler_findings_total",
      help: "Reconciler findings (orphan, lost, listing_failed) by extension",
      labelNames: ["extension", "kind"],
      registers: [registry],
    }),
    jobs: new Counter({
      name: "sandboxer_jobs_total",
      help: "Lifecycle queue jobs this process ran, by job name and outcome (completed, delayed, error)",
      labelNames: ["name", "outcome"],
      registers: [registry],
    }),
    ttlLateness: new Histogram({
      name: "sandboxer_ttl_lateness_seconds",
      help: "How long after expires_at a TTL teardown started",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    sandboxesByState: new Gauge({
      name: "sandboxer_sandboxes",
      help: "Sandboxes by lifecycle state and extension (from the ledger DB)",
      labelNames: ["state", "extension"],
      registers: [registry],
      async collect() {
        const rt = (globalThis as G)[RUNTIME_KEY];
        if (!rt) return;
        const rows = await rt.db
          .select({ state: sandboxes.state, extension: sandboxes.extensionId, n: sql<number>`count(*)::int` })
          .from(sandboxes)
          .groupBy(sandboxes.state, sandboxes.extensionId);
        this.reset();
        for (const r of rows) this.set({ state: r.state, extension: r.extension ?? "none" }, Number(r.n));
      },
    }),
    queueJobs: new Gauge({
      name: "sandboxer_queue_jobs",
      help: "Lifecycle queue jobs by state",
      labelNames: ["state"],
      registers: [registry],
      async collect() {
        const rt = (globalThis as G)[RUNTIME_KEY];
        if (!rt) return;
        const counts = await rt.queue.queue.getJobCounts("wait", "active", "delayed", "failed", "prioritized", "waiting-children");
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    }),
    queueOldestWaitingSeconds: new Gauge({
      name: "sandboxer_queue_oldest_waiting_seconds",
      help: "Age of the oldest job waiting to run in the lifecycle queue",
      registers: [registry],
      async collect() {
        const rt = (globalThis as G)[RUNTIME_KEY];
        if (!rt) return;
        const [oldest] = await rt.queue.queue.getJobs(["wait", "prioritized"], 0, 0, true);
        this.set(oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
      },
    }),
  };
  g[KEY] = m;
  return m;
}

/** Points the scrape-time gauges at this process's runtime. */
export function bindMetricsRuntime(rt: Runtime) {
  (globalThis as G)[RUNTIME_KEY] = rt;
}

/**
 * Whether a scrape may read the metrics: always when no SANDBOXER_METRICS_TOKEN is set, otherwise
 * only with `Authorization: Bearer <token>` (compared in constant time). Metrics carry no team or
 * secret data, but each scrape queries Postgres and Redis, and volumes are business data.
 */
export function metricsAllowed(authorization: string | null | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
  if (!m) return false;
  const given = createHash("sha256").update(m[1]!).digest();
  const wanted = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, wanted);
}

export async function metricsText(rt: Runtime): Promise<{ body: string; contentType: string }> {
  bindMetricsRuntime(rt);
  const m = metrics();
  return { body: await m.registry.metrics(), contentType: m.registry.contentType };
}
