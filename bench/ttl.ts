/**
 * bench/ttl: how precisely TTL teardowns start, with many live sandboxes.
 *
 *   npm run bench:ttl -- [--live 100000] [--rate 20] [--seconds 30] [--burst 10000] [--hz 100]
 *                         [--concurrency 100] [--teams 50] [--lead-ms 15000] [--queue-only]
 *
 * Seeds `--live` ready sandboxes directly (bulk INSERTs, the simulated provider's state through
 * a Redis pipeline, TTL jobs through addBulk) instead of running that many lifecycles, then lets
 * one worker (in this process) tear down:
 * - a steady stream: `--rate` expiries per second for `--seconds`;
 * - then a burst: `--burst` sandboxes all expiring at the same millisecond.
 * The rest expire hours later and stay live throughout. Lateness is the teardown's start (the
 * ready → destroying event, stamped when the job begins) minus expires_at.
 *
 * Postgres (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test;
 * a throwaway database) and two private redis-servers (queue with `--hz`, provider state).
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { and, eq, inArray, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { migrateDb, openDb } from "../db/client";
import { organization, sandboxEvents, sandboxes, teamCredits } from "../db/schema";
import { jobCatalog, jobIds } from "../jobs/catalog";
import { startWorkers } from "../jobs/worker";
import { loadEnv } from "../server/env";
import { newId } from "../server/ids";
import { createLogger } from "../server/logger";
import { createRuntime } from "../server/runtime";
import { reconcileExtension } from "../server/services/reconcile";
import { PrivateRedis, sleep } from "./chaos/procs";
import { createThrowawayDatabase, writeChaosConfig } from "./chaos/setup";

const { values } = parseArgs({
  options: {
    live: { type: "string", default: "100000" },
    rate: { type: "string", default: "20" },
    seconds: { type: "string", default: "30" },
    burst: { type: "string", default: "10000" },
    hz: { type: "string", default: "100" },
    concurrency: { type: "string", default: "100" },
    teams: { type: "string", default: "50" },
    "lead-ms": { type: "string", default: "15000" },
    "queue-only": { type: "boolean", default: false },
  },
});
const LIVE = Number(values.live);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BURST = Number(values.burst);
const STEADY = Math.round(RATE * SECONDS);
const FAR = LIVE - STEADY - BURST;
if (FAR < 0) throw new Error(`--live ${LIVE} is less than the steady (${STEADY}) plus burst (${BURST}) expiries`);

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${m}`);
const chunks = <T>(xs: T[], n: number) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));

/**
 * `--queue-only`: the same delayed jobs with a no-op handler, no database, no provider: how late
 * BullMQ and Redis alone hand a due job to a worker (job start − due time), per `hz`.
 */
async function queueOnly() {
  const { Queue, Worker } = await import("bullmq");
  const redis = await PrivateRedis.start({ hz: Number(values.hz) });
  const connection = () => new Redis(redis.url, { maxRetriesPerRequest: null });
  const prefix = `{ttlq-${randomBytes(3).toString("hex")}}`;
  const queue = new Queue("probe", { connection: connection(), prefix });
  const late: number[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  const worker = new Worker(
    "probe",
    async (job) => {
      if (job.data.measure) late.push(Date.now() - job.data.due);
    },
    { connection: connection(), prefix, concurrency: Number(values.concurrency) },
  );
  try {
    await worker.waitUntilReady();
    const add = (dues: number[], measure: boolean) =>
      Promise.all(chunks(dues, 1_000).map((part) => queue.addBulk(part.map((due) => ({ name: "ttl", data: { due, measure }, opts: { delay: Math.max(0, due - Date.now()), removeOnComplete: true } })))));
    const farBase = Date.now() + 3 * 3_600_000;
    await add(Array.from({ length: FAR + BURST }, (_, i) => farBase + i), false);
    const start = Date.now() + 3_000;
    await add(Array.from({ length: STEADY }, (_, i) => start + Math.floor((i * 1000) / RATE)), true);
    setTimeout(() => loopDelay.enable(), start - Date.now()).unref();
    while (late.length < STEADY && Date.now() < start + SECONDS * 1000 + 30_000) await sleep(200);
    loopDelay.disable();
    console.log(`queue only (BullMQ + Redis, no-op handler), ${LIVE} delayed jobs, Redis hz=${values.hz}:`);
    console.log(`  steady ${RATE}/s for ${SECONDS}s: ${late.length}/${STEADY} started; lateness p50 ${pct(late, 50)} ms, p99 ${pct(late, 99)} ms, max ${Math.max(...late)} ms`);
    console.log(`  this process's event-loop delay meanwhile: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  } finally {
    await worker.close(true);
    await queue.close();
    await redis.destroy();
  }
}

async function main() {
  if (values["queue-only"]) return queueOnly();
  const baseUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
  const db = await createThrowawayDatabase(baseUrl, "sbx_bench_ttl");
  const queueRedis = await PrivateRedis.start({ hz: Number(values.hz) });
  const stubRedis = await PrivateRedis.start({ hz: 10 });
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-ttl-"));
  writeChaosConfig(configDir);
  const handle = await openDb({ kind: "postgres", url: db.url, poolSize: 40 });
  const prefix = `ttl-${randomBytes(4).toString("hex")}`;
  try {
    await migrateDb(handle);
    const processEnv = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: queueRedis.url,
      SANDBOXER_CONFIG_DIR: configDir,
      SANDBOXER_STUB_REDIS_URL: stubRedis.url,
      SANDBOXER_STUB_LATENCY_MS: "0",
      SANDBOXER_LOG_LEVEL: "warn",
      SANDBOXER_FIN_HUB_URL: "",
    };
    const rt = await createRuntime({ env: loadEnv(processEnv), db: handle, keyPrefix: prefix, logger: createLogger({ level: "error" }), processEnv });
    const stub = new Redis(stubRedis.url);
    const queueInfo = await rt.redis.config("GET", "hz");
    log(`postgres ${db.name}; queue redis hz=${(queueInfo as string[])[1]}; ${LIVE} live: ${STEADY} at ${RATE}/s over ${SECONDS}s, burst of ${BURST}, ${FAR} later; node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);

    // Teams, each with enough credit for its share of holds.
    const teams = Array.from({ length: Number(values.teams) }, (_, i) => `team_ttl${i}_${randomBytes(3).toString("hex")}`);
    await rt.db.insert(organization).values(teams.map((id) => ({ id, name: id, slug: id, createdAt: new Date() })));
    const hold = 100_000n; // µ$; above any TTL cost here, so a settle never caps
    const perTeam = BigInt(Math.ceil(LIVE / teams.length));
    await rt.db.insert(teamCredits).values(teams.map((teamId) => ({ teamId, balanceMicros: 10n ** 12n, heldMicros: hold * perTeam })));

    const ext = rt.catalog.extensions.get("ext.saas-stub")!;
    let seeded = 0;
    /** Rows in state ready, their provider sandboxes, and their TTL jobs. */
    async function seed(expiries: number[]) {
      const now = new Date();
      const startedAt = new Date(now.getTime() - 60_000);
      const rows = expiries.map((exp, i) => {
        const id = newId("sbx", now);
        return { id, teamId: teams[(seeded + i) % teams.length]!, exp: new Date(exp), pid: `stub-${randomBytes(8).toString("hex")}` };
      });
      seeded += rows.length;
      for (const part of chunks(rows, 2_000)) {
        // The provider has the sandbox before the ledger calls it ready, as in a real create.
        const p = stub.pipeline();
        for (const r of part) {
          p.hset(`${prefix}:stub:sbx:${r.pid}`, { sandboxId: r.id, teamId: r.teamId, template: "base", keyFingerprint: "", state: "running", startedAt: String(startedAt.getTime()), readyAt: String(startedAt.getTime()), endsAt: String(r.exp.getTime() + 60_000) });
          p.zadd(`${prefix}:stub:all`, startedAt.getTime(), r.pid);
          p.sadd(`${prefix}:stub:tag:${r.id}`, r.pid);
        }
        await p.exec();
        await rt.db.insert(sandboxes).values(
          part.map((r) => ({
            id: r.id,
            teamId: r.teamId,
            profileId: "profile.chaos",
            state: "ready" as const,
            extensionId: ext.id,
            providerSandboxId: r.pid,
            credentialSource: "platform",
            resources: { vcpu: 2000, memoryMiB: 512, gpu: 0, gpuType: null },
            template: "base",
            ttlSeconds: Math.ceil((r.exp.getTime() - startedAt.getTime()) / 1000),
            holdMicros: hold,
            estimateMicros: hold,
            rateCardVersion: ext.pricing.rate_card_version,
            createdAt: startedAt,
            startedAt,
            readyAt: startedAt,
            lastSeenAt: startedAt,
            expiresAt: r.exp,
            updatedAt: startedAt,
          })),
        );
        const spec = jobCatalog["sandbox.teardown"];
        await rt.queue.queue.addBulk(
          part.map((r) => ({
            name: "sandbox.teardown",
            data: { sandboxId: r.id, reason: "ttl" as const },
            opts: {
              jobId: jobIds.ttl(r.id, r.exp),
              delay: Math.max(0, r.exp.getTime() - Date.now()),
              attempts: spec.attempts,
              backoff: { type: "sandboxer", delay: spec.backoffMs },
              removeOnComplete: true,
              removeOnFail: true,
            },
          })),
        );
      }
      return rows.map((r) => r.id);
    }

    // The worker starts first, so the reconciler's first pass runs now, over an empty provider; the
    // next would be a day later. A pass over every live sandbox would compete with the teardowns
    // measured here, so one is timed on its own at the end.
    const workers = await startWorkers(rt, { concurrency: Number(values.concurrency), reconcileEveryMs: 24 * 3_600_000 });
    await sleep(1_000);

    // The sandboxes that stay live throughout, first; then pick the start and seed the ones that expire.
    const t0 = Date.now();
    const farBase = Date.now() + 3 * 3_600_000;
    await seed(Array.from({ length: FAR }, (_, i) => farBase + i * 10));
    log(`seeded ${FAR} long-lived sandboxes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const start = Date.now() + Number(values["lead-ms"]);
    const steadyExp = Array.from({ length: STEADY }, (_, i) => start + Math.floor((i * 1000) / RATE));
    const burstAt = start + SECONDS * 1000 + 5_000;
    const steadyIds = await seed(steadyExp);
    const burstIds = await seed(Array.from({ length: BURST }, () => burstAt));
    const lead = start - Date.now();
    log(`seeded ${STEADY + BURST} expiring sandboxes; the first expires in ${lead} ms`);
    if (lead < 1_000) throw new Error(`seeding ran past the start; raise --lead-ms (was ${values["lead-ms"]})`);
    const [{ n }] = (await rt.db.select({ n: sql<number>`count(*)::int` }).from(sandboxes).where(eq(sandboxes.state, "ready"))) as [{ n: number }];
    log(`${n} live sandboxes; ${await rt.queue.queue.getDelayedCount()} delayed TTL jobs`);

    const cpu0 = process.cpuUsage();
    // How late this process's own timers fire while the steady stream runs: the machine's share of
    // the lateness, whatever Redis and the worker do.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    setTimeout(() => loopDelay.enable(), Math.max(0, start - Date.now())).unref();
    setTimeout(() => loopDelay.disable(), Math.max(0, start + SECONDS * 1000 - Date.now())).unref();

    const waitDone = async (ids: string[], until: number) => {
      for (;;) {
        const [row] = (await rt.db
          .select({ n: sql<number>`count(*)::int` })
          .from(sandboxes)
          .where(and(eq(sandboxes.state, "destroyed"), inArray(sandboxes.id, ids)))) as [{ n: number }];
        if (Number(row.n) >= ids.length || Date.now() > until) return Number(row.n);
        await sleep(500);
      }
    };
    const steadyDone = await waitDone(steadyIds, start + SECONDS * 1000 + 120_000);
    const burstDone = await waitDone(burstIds, burstAt + 300_000);
    const cpu = process.cpuUsage(cpu0);
    await workers.close(5_000);

    async function times(ids: string[]) {
      const out: { late: number; settled: number | null }[] = [];
      for (const part of chunks(ids, 5_000)) {
        const rows = await rt.db
          .select({ id: sandboxes.id, expiresAt: sandboxes.expiresAt, endedAt: sandboxes.endedAt })
          .from(sandboxes)
          .where(inArray(sandboxes.id, part));
        const evs = await rt.db
          .select({ sandboxId: sandboxEvents.sandboxId, toState: sandboxEvents.toState, at: sandboxEvents.at, reason: sandboxEvents.reason })
          .from(sandboxEvents)
          .where(inArray(sandboxEvents.sandboxId, part));
        const startAt = new Map<string, number>();
        const settledAt = new Map<string, number>();
        const bySweep = new Set<string>();
        for (const e of evs) {
          if (e.toState === "destroying") startAt.set(e.sandboxId, e.at.getTime());
          if (e.toState === "destroying" && e.reason.includes("sweep")) bySweep.add(e.sandboxId);
          if (e.toState === "destroyed") settledAt.set(e.sandboxId, e.at.getTime());
        }
        for (const r of rows) {
          const s = startAt.get(r.id);
          if (s === undefined) continue;
          out.push({ late: s - r.expiresAt!.getTime(), settled: settledAt.get(r.id) ?? null });
        }
        sweepStarts += [...bySweep].length;
      }
      return out;
    }
    let sweepStarts = 0;
    const steady = await times(steadyIds);
    const steadyLate = steady.map((s) => s.late);
    const burst = await times(burstIds);
    const burstLate = burst.map((b) => b.late);
    const lastStart = Math.max(...burstLate);
    const lastSettle = Math.max(...burst.map((b) => (b.settled ?? NaN) - burstAt).filter(Number.isFinite));

    console.log("");
    console.log(`TTL precision, ${LIVE} live sandboxes, queue Redis hz=${values.hz}, worker concurrency ${values.concurrency}, Postgres`);
    console.log(`  steady ${RATE}/s for ${SECONDS}s: ${steadyDone}/${STEADY} torn down; lateness p50 ${pct(steadyLate, 50)} ms, p99 ${pct(steadyLate, 99)} ms, max ${Math.max(...steadyLate)} ms`);
    console.log(`  this process's event-loop delay meanwhile (timer resolution 5 ms): p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`);
    console.log(`  burst of ${BURST} at one instant: ${burstDone}/${BURST} torn down; all started within ${lastStart} ms (p50 ${pct(burstLate, 50)} ms, p99 ${pct(burstLate, 99)} ms); all settled within ${lastSettle} ms (${Math.round(BURST / (lastSettle / 1000))}/s)`);
    console.log(`  teardowns started by the sweep instead of their TTL job: ${sweepStarts}`);
    const r0 = Date.now();
    const pass = await reconcileExtension(rt, "ext.saas-stub");
    console.log(`  one reconciler pass over the provider's ${pass.listed} sandboxes: ${((Date.now() - r0) / 1000).toFixed(1)} s (${pass.aborted ? `aborted: ${pass.aborted}` : `${pass.orphansKilled} orphans, ${pass.lost} lost`})`);
    console.log(`  CPU of this process (API + worker + clients) during the run: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    stub.disconnect();
    await rt.close();
  } finally {
    await handle.close().catch(() => {});
    await queueRedis.destroy();
    await stubRedis.destroy();
    fs.rmSync(configDir, { recursive: true, force: true });
    await db.drop().catch((err) => console.error(`could not drop ${db.name}: ${(err as Error).message}`));
  }
}

for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130)); // exit handlers stop the private redis-servers

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
