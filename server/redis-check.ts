import type { Redis } from "ioredis";

/**
 * BullMQ keeps queued and delayed jobs in Redis; a Redis that evicts keys under memory pressure
 * silently loses teardowns. Refuse to start unless maxmemory-policy is noeviction.
 * Managed Redis often disables CONFIG, so INFO is the fallback.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  let policy: string | null = null;
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
    policy = reply[1] ?? null;
  } catch {
    const info = await redis.info("memory");
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? null;
  }
  if (policy !== null && policy !== "noeviction") {
    throw new Error(
      `Redis maxmemory-policy is "${policy}"; Sandboxer needs "noeviction" so queued teardowns are never evicted. ` +
        `Fix it with: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)`,
    );
  }
}
