/**
 * The smaller chaos run inside `npm test`: worker processes SIGKILLed and SIGTERMed at random,
 * provider faults, a Redis FLUSHALL and a Redis restart, then every invariant checked
 * (bench/chaos/run.ts). Several processes need one database, so it runs only on Postgres:
 * `npm test` runs it in its Postgres pass (TEST_DATABASE_URL set, as in CI).
 */
import { describe, expect, it } from "vitest";
import { hasRedisServer } from "./procs";
import { chaosDefaults, runChaos } from "./run";

const pgUrl = process.env.TEST_DB === "postgres" ? process.env.TEST_DATABASE_URL : undefined;
const why = !pgUrl
  ? "needs Postgres: set TEST_DB=postgres and TEST_DATABASE_URL (npm test does so in its Postgres pass)"
  : !hasRedisServer()
    ? "needs redis-server on PATH"
    : null;

describe("chaos (reduced)", () => {
  it.skipIf(why !== null)(
    `lifecycles survive worker crashes, provider faults and a Redis flush and restart${why ? ` — SKIPPED: ${why}` : ""}`,
    async () => {
      const report = await runChaos({
        ...chaosDefaults,
        lifecycles: 50,
        workers: 2,
        inFlight: 12,
        faultRate: 0.15,
        flushes: 1,
        redisRestarts: 1,
        killEveryMs: 2_000,
        quiesceMs: 60_000,
        databaseUrl: pgUrl!,
        seed: Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
        log: (line) => console.log(line),
      });
      console.log(report.text);
      expect(report.violations).toEqual([]);
      const f = report.figures as { outcomes: Record<string, number>; faults: { injected: number }; redis: string[] };
      expect(f.outcomes.destroyed).toBeGreaterThan(0);
      expect(f.redis).toHaveLength(2);
    },
    180_000,
  );
});
