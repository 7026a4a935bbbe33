/**
 * `npm run chaos`: the crash and fault suite with its defaults (200 lifecycles, 3 workers,
 * fault rate 0.1, two Redis flushes and two Redis restarts), or as set by flags:
 *
 *   npm run chaos -- --lifecycles 500 --workers 2 --fault-rate 0.2 --flushes 3 --restarts 1 --seed 42
 *   npm run chaos -- --with-e2b      # the real E2B adapter, against the local E2B fake, first in the route
 *
 * Needs Postgres (CHAOS_DATABASE_URL, else TEST_DATABASE_URL, else DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test; a throwaway database is created on it and dropped)
 * and `redis-server` on PATH (two private servers on free ports; the shared Redis is never
 * touched). Prints its figures, and exits 1 if any check was violated.
 */
import { parseArgs } from "node:util";
import { chaosDefaults, runChaos } from "./run";
import { hasRedisServer } from "./procs";

const { values } = parseArgs({
  options: {
    lifecycles: { type: "string" },
    workers: { type: "string" },
    "in-flight": { type: "string" },
    "fault-rate": { type: "string" },
    flushes: { type: "string" },
    restarts: { type: "string" },
    "kill-every-ms": { type: "string" },
    "sigterm-share": { type: "string" },
    "sweep-ms": { type: "string" },
    "lock-ms": { type: "string" },
    "grace-ms": { type: "string" },
    "quiesce-ms": { type: "string" },
    seed: { type: "string" },
    keep: { type: "boolean" },
    "with-e2b": { type: "boolean" },
    json: { type: "boolean" },
  },
});
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));

if (!hasRedisServer()) {
  console.error("chaos: redis-server is not on PATH (apt-get install -y redis-server); it starts private ones.");
  process.exit(2);
}
const databaseUrl =
  process.env.CHAOS_DATABASE_URL || process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

// Exit handlers (bench/chaos/procs.ts) stop the workers and private redis-servers.
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));

const report = await runChaos({
  ...chaosDefaults,
  lifecycles: num(values.lifecycles, chaosDefaults.lifecycles),
  workers: num(values.workers, chaosDefaults.workers),
  inFlight: num(values["in-flight"], chaosDefaults.inFlight),
  faultRate: num(values["fault-rate"], chaosDefaults.faultRate),
  flushes: num(values.flushes, chaosDefaults.flushes),
  redisRestarts: num(values.restarts, chaosDefaults.redisRestarts),
  killEveryMs: num(values["kill-every-ms"], chaosDefaults.killEveryMs),
  sigtermShare: num(values["sigterm-share"], chaosDefaults.sigtermShare),
  sweepMs: num(values["sweep-ms"], chaosDefaults.sweepMs),
  lockMs: num(values["lock-ms"], chaosDefaults.lockMs),
  graceMs: num(values["grace-ms"], chaosDefaults.graceMs),
  quiesceMs: num(values["quiesce-ms"], chaosDefaults.quiesceMs),
  seed: num(values.seed, Math.floor(Math.random() * 2 ** 31)),
  keep: Boolean(values.keep),
  withE2b: Boolean(values["with-e2b"]),
  databaseUrl,
  log: (line) => console.log(line),
});
console.log(values.json ? JSON.stringify(report.figures, null, 2) : report.text);
process.exit(report.ok ? 0 : 1);
