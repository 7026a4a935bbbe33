import { sql } from "drizzle-orm";
import type { Runtime } from "./runtime";

/** Readiness: the DB answers a query and Redis answers PING, each within `timeoutMs`. */
export async function checkReadiness(rt: Runtime, timeoutMs = 2_000) {
  const within = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs))]);
  const check = async (fn: () => Promise<unknown>) => {
    try {
      await within(fn());
      return { ok: true as const };
    } catch (err) {
      return { ok: false as const, error: (err as Error).message };
    }
  };
  const [db, redis] = await Promise.all([check(() => rt.db.execute(sql`select 1`)), check(() => rt.redis.ping())]);
  return { ok: db.ok && redis.ok, db, redis, dbKind: rt.dbKind };
}
