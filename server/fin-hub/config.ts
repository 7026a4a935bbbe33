import type { Env } from "../env";

/** fin-hub delivery settings; null when the export is off (no SANDBOXER_FIN_HUB_URL). */
export type FinHubConfig = {
  url: string;
  /** Current secret first; the previous one too while a rotation is under way. */
  secrets: string[];
  intervalMs: number;
  batchSize: number;
  /** Send attempts before a batch is dead-lettered. */
  attempts: number;
  timeoutMs: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs, never below Retry-After. */
  backoffBaseMs: number;
  maxBackoffMs: number;
};

export const FIN_HUB_BACKOFF_BASE_MS = 1_000;
export const FIN_HUB_MAX_BACKOFF_MS = 5 * 60_000;

export function finHubConfig(env: Env): FinHubConfig | null {
  if (!env.SANDBOXER_FIN_HUB_URL) return null;
  // loadEnv already refused a URL without a secret; this guards hand-built Env objects.
  if (!env.SANDBOXER_FIN_HUB_SECRET) throw new Error("SANDBOXER_FIN_HUB_SECRET is required when SANDBOXER_FIN_HUB_URL is set");
  return {
    url: env.SANDBOXER_FIN_HUB_URL,
    secrets: [env.SANDBOXER_FIN_HUB_SECRET, ...(env.SANDBOXER_FIN_HUB_SECRET_PREVIOUS ? [env.SANDBOXER_FIN_HUB_SECRET_PREVIOUS] : [])],
    intervalMs: env.SANDBOXER_FIN_HUB_INTERVAL_MS,
    batchSize: env.SANDBOXER_FIN_HUB_BATCH_SIZE,
    attempts: env.SANDBOXER_FIN_HUB_ATTEMPTS,
    timeoutMs: env.SANDBOXER_FIN_HUB_TIMEOUT_MS,
    concurrency: env.SANDBOXER_FIN_HUB_CONCURRENCY,
    backoffBaseMs: FIN_HUB_BACKOFF_BASE_MS,
    maxBackoffMs: FIN_HUB_MAX_BACKOFF_MS,
  };
}

/** Exponential from the base, capped, never sooner than the receiver's Retry-After. */
export function finHubBackoffMs(cfg: Pick<FinHubConfig, "backoffBaseMs" | "maxBackoffMs">, attempts: number, retryAfterMs?: number): number {
  const exponential = Math.min(cfg.maxBackoffMs, cfg.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(exponential, Math.min(retryAfterMs ?? 0, 60 * 60_000));
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now.getTime());
}
