import type { Runtime } from "../runtime";

/**
 * Provider cool-downs, shared by every worker through Redis. Consecutive failures before a
 * sandbox exists (429, 5xx, capacity) count up; at the threshold the extension cools down, so
 * routing skips it instead of hitting it again. A Retry-After from the provider is honoured
 * (the cool-down lasts at least that long). A successful create resets the count.
 */
const FAILURE_WINDOW_MS = 5 * 60_000;
const keys = (prefix: string, extensionId: string) => ({
  failures: `${prefix}:cooldown:failures:${extensionId}`,
  until: `${prefix}:cooldown:until:${extensionId}`,
});

export type Cooldown = { until: Date; reason: string };

export async function getCooldown(rt: Pick<Runtime, "redis" | "keyPrefix" | "clock">, extensionId: string): Promise<Cooldown | null> {
  const raw = await rt.redis.get(keys(rt.keyPrefix, extensionId).until);
  if (!raw) return null;
  const parsed = JSON.parse(raw) as { until: number; reason: string };
  if (parsed.until <= rt.clock.now().getTime()) return null;
  return { until: new Date(parsed.until), reason: parsed.reason };
}

export async function recordProviderFailure(
  rt: Pick<Runtime, "redis" | "keyPrefix" | "clock" | "env" | "logger">,
  extensionId: string,
  failure: { reason: string; retryAfterMs?: number },
): Promise<Cooldown | null> {
  const k = keys(rt.keyPrefix, extensionId);
  const [[, count]] = (await rt.redis.multi().incr(k.failures).pexpire(k.failures, FAILURE_WINDOW_MS).exec()) as [[null, number]];
  const threshold = rt.env.SANDBOXER_COOLDOWN_FAILURES;
  if (count < threshold) return null;
  const backoff = rt.env.SANDBOXER_COOLDOWN_MS * 2 ** Math.min(count - threshold, 4);
  const ms = Math.max(backoff, failure.retryAfterMs ?? 0);
  if (ms <= 0) return null;
  const until = new Date(rt.clock.now().getTime() + ms);
  const reason = `${count} failures in a row, last: ${failure.reason}`;
  await rt.redis.set(k.until, JSON.stringify({ until: until.getTime(), reason }), "PX", ms);
  rt.logger.warn({ extensionId, until: until.toISOString(), failures: count }, "extension cooling down");
  return { until, reason };
}

export async function recordProviderSuccess(rt: Pick<Runtime, "redis" | "keyPrefix">, extensionId: string): Promise<void> {
  await rt.redis.del(keys(rt.keyPrefix, extensionId).failures);
}
