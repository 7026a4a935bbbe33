/**
 * bench/lifecycle: create→ready and create→destroyed latency and full-lifecycle throughput
 * through the real services, BullMQ worker and Redis, with a zero-latency stub provider.
 *
 *   npx tsx bench/lifecycle.ts [--sequential 200] [--load 2000] [--concurrency 200] [--teams 1]
 *   BENCH_DATABASE_URL=postgres://… to run on Postgres instead of in-memory PGlite.
 *
 * --teams N spreads the lifecycles round-robin over N teams (default 1: every create and settle
 * goes through the one team's balance row, the worst case). On Postgres the bench VACUUMs the
 * tables a lifecycle writes before it starts, so runs do not inherit earlier runs' dead rows
 * (autovacuum may be off or behind on a shared test server); the load average is printed.
 *
 * Latencies are read from the sandbox event rows the system writes (requested → ready →
 * destroyed), so polling by this script adds no error. CPU ms per lifecycle is this process's
 * user+system CPU (API services, worker, DB client; embedded PGlite included) divided by
 * lifecycles; the Redis server's CPU is not counted.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { asc, inArray, sql } from "drizzle-orm";
import { parseArgs } from "node:util";
import { migrateDb, openDb } from "../db/client";
import { sandboxEvents, sandboxes } from "../db/schema";
import { startWorkers } from "../jobs/worker";
import { loadEnv } from "../server/env";
import { createLogger } from "../server/logger";
import { createRuntime, type Runtime } from "../server/runtime";
import { createSandbox, destroySandbox } from "../server/services/sandboxes";
import { deleteKeys, seedTeam } from "../server/testing/harness";

const { values } = parseArgs({
  options: {
    sequential: { type: "string", default: "200" },
    load: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "200" },
    teams: { type: "string", default: "1" },
  },
});

/**
 * CPU ms used so far by this bench's Postgres backends and by the Redis server, read from /proc
 * (Linux, servers on this machine; null otherwise). Redis is shared with anything else using
 * it at the time, so its figure is an upper bound.
 */
async function serverCpuMs(rt: Runtime, redisPid: number | null): Promise<{ pg: Map<number, number>; redis: number | null } | null> {
  const ticks = (pid: number) => {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, at USER_HZ 100
    } catch {
      return null;
    }
  };
  if (!fs.existsSync("/proc/self/stat")) return null;
  const res = (await rt.db.execute(sql`select pid from pg_stat_activity where datname = current_database()`)) as unknown as { rows: { pid: number }[] };
  const pg = new Map<number, number>();
  for (const { pid } of res.rows) {
    const t = ticks(pid);
    if (t !== null) pg.set(pid, t);
  }
  return { pg, redis: redisPid ? ticks(redisPid) : null };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (n: number) => n.toFixed(1);

let pollMs = 1;
// One poller for every waiting lifecycle: a single `id = any(...)` read per tick, so the bench's
// own load on the database stays one query per tick however many lifecycles are in flight.
const waiting = new Map<string, { states: string[]; resolve: (state: string) => void }>();
let polling: Promise<void> | null = null;
function waitState(rt: Runtime, id: string, states: string[]): Promise<string> {
  const p = new Promise<string>((resolve) => waiting.set(id, { states, resolve }));
  polling ??= (async () => {
    while (waiting.size > 0) {
      const ids = [...waiting.keys()];
      const rows = await rt.db.select({ id: sandboxes.id, state: sandboxes.state }).from(sandboxes).where(inArray(sandboxes.id, ids));
      for (const row of rows) {
        const w = waiting.get(row.id);
        if (w && w.states.includes(row.state)) {
          waiting.delete(row.id);
          w.resolve(row.state);
        }
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    polling = null;
  })();
  return p;
}

async function lifecycle(rt: Runtime, teamId: string) {
  const s = await createSandbox(rt, { teamId, userId: null }, { profile: "burst-sandbox", ttlSeconds: 3600 });
  const state = await waitState(rt, s.id, ["ready", "failed"]);
  if (state !== "ready") throw new Error(`${s.id} ${state}`);
  await destroySandbox(rt, { teamId, userId: null }, s.id);
  await waitState(rt, s.id, ["destroyed"]);
  return s.id;
}

async function latencies(rt: Runtime, ids: string[]) {
  const events = await rt.db
    .select({ sandboxId: sandboxEvents.sandboxId, toState: sandboxEvents.toState, at: sandboxEvents.at })
    .from(sandboxEvents)
    .where(inArray(sandboxEvents.sandboxId, ids))
    .orderBy(asc(sandboxEvents.seq));
  const by = new Map<string, Record<string, number>>();
  for (const e of events) {
    if (!e.toState) continue;
    const m = by.get(e.sandboxId) ?? {};
    m[e.toState] ??= e.at.getTime();
    by.set(e.sandboxId, m);
  }
  const ready: number[] = [];
  const destroyed: number[] = [];
  for (const m of by.values()) {
    if (m.requested !== undefined && m.ready !== undefined) ready.push(m.ready - m.requested);
    if (m.requested !== undefined && m.destroyed !== undefined) destroyed.push(m.destroyed - m.requested);
  }
  return { ready, destroyed };
}

async function main() {
  const keyPrefix = `bench-${randomBytes(4).toString("hex")}`;
  const env = loadEnv({ ...process.env, SANDBOXER_LOG_LEVEL: "warn" });
  const url = process.env.BENCH_DATABASE_URL;
  const db = await openDb(url ? { kind: "postgres", url, poolSize: 20 } : { kind: "pglite", dataDir: null });
  await migrateDb(db);
  const rt = await createRuntime({
    env,
    db,
    keyPrefix,
    logger: createLogger({ level: "warn" }),
    processEnv: { ...process.env, SANDBOXER_STUB_LATENCY_MS: "0", SANDBOXER_STUB_FAIL_RATE: "0" },
  });
  const workers = await startWorkers(rt, { concurrency: 100, sweepEveryMs: 600_000 });
  if (db.kind === "postgres") {
    for (const table of ["sandboxes", "sandbox_events", "team_credits", "credit_ledger", "usage_records", "billing_outbox"]) {
      await rt.db.execute(sql.raw(`vacuum analyze ${table}`));
    }
  }
  const teams: string[] = [];
  for (let i = 0; i < Number(values.teams); i++) teams.push(await seedTeam(rt, 10n ** 15n, `bench-${i}`));
  let turn = 0;
  const nextTeam = () => teams[turn++ % teams.length]!;
  const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`db: ${db.kind}; redis: ${env.REDIS_URL}; node ${process.version}; teams ${teams.length}; load average ${loadavg()}`);

  // Warm-up: JIT, connection pools, prepared plans.
  for (let i = 0; i < 20; i++) await lifecycle(rt, nextTeam());

  const nSeq = Number(values.sequential);
  const seqIds: string[] = [];
  for (let i = 0; i < nSeq; i++) seqIds.push(await lifecycle(rt, nextTeam()));
  const seq = await latencies(rt, seqIds);
  console.log(`sequential (${nSeq} lifecycles, one at a time):`);
  console.log(`  create→ready      p50 ${fmt(pct(seq.ready, 50))} ms  p99 ${fmt(pct(seq.ready, 99))} ms`);
  console.log(`  create→destroyed  p50 ${fmt(pct(seq.destroyed, 50))} ms  p99 ${fmt(pct(seq.destroyed, 99))} ms`);

  const nLoad = Number(values.load);
  pollMs = 5;
  const conc = Number(values.concurrency);
  let next = 0;
  const loadIds: string[] = [];
  const redisPid = await rt.redis
    .info("server")
    .then((info) => Number(/process_id:(\d+)/.exec(info)?.[1]) || null)
    .catch(() => null);
  const servers0 = db.kind === "postgres" ? await serverCpuMs(rt, redisPid) : null;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < nLoad) {
        next++;
        loadIds.push(await lifecycle(rt, nextTeam()));
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const servers1 = servers0 ? await serverCpuMs(rt, redisPid) : null;
  const load = await latencies(rt, loadIds);
  console.log(`under load (${nLoad} lifecycles, ${conc} in flight, worker concurrency 100):`);
  console.log(`  throughput        ${fmt(nLoad / wallS)} lifecycles/s (${fmt(wallS)} s)`);
  console.log(`  create→ready      p50 ${fmt(pct(load.ready, 50))} ms  p99 ${fmt(pct(load.ready, 99))} ms`);
  console.log(`  create→destroyed  p50 ${fmt(pct(load.destroyed, 50))} ms  p99 ${fmt(pct(load.destroyed, 99))} ms`);
  console.log(`  CPU per lifecycle ${fmt((cpu.user + cpu.system) / 1000 / nLoad)} ms (this process)`);
  if (servers0 && servers1) {
    let pgMs = 0;
    for (const [pid, t] of servers1.pg) pgMs += t - (servers0.pg.get(pid) ?? 0);
    const redisMs = servers1.redis !== null && servers0.redis !== null ? servers1.redis - servers0.redis : NaN;
    console.log(`                    ${fmt(pgMs / nLoad)} ms (this bench's Postgres backends), ${fmt(redisMs / nLoad)} ms (Redis server, shared: an upper bound)`);
  }
  console.log(`load average at the end: ${loadavg()}`);

  await workers.close();
  await rt.close();
  await db.close();
  await deleteKeys(keyPrefix);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
