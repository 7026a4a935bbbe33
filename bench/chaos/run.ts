/**
 * The crash and fault suite (`npm run chaos`; a smaller run is bench/chaos/chaos.test.ts).
 *
 * Runs N sandbox lifecycles through the real services against Postgres, a PRIVATE queue Redis
 * and 2–3 standalone worker processes, while it
 * - SIGKILLs (and sometimes SIGTERMs) worker processes at random, preferring moments when one
 *   is running a provision or teardown, and starts them again;
 * - injects provider faults at a rate: 429 with Retry-After, 503, timeouts, creates whose reply
 *   is lost, slow-to-ready sandboxes, failing teardowns;
 * - flushes the queue's Redis (FLUSHALL) and kills/restarts it empty, mid-run.
 * Then it waits for quiescence, stops the workers with SIGTERM, runs one reconciler pass per
 * extension and checks the invariants by SQL and by the provider's own listing. Every check
 * that fails is a violation; the figures and violations make up the report.
 *
 * The simulated provider (ext.saas-stub, ext.saas-stub-b) keeps its state in a Redis of its
 * own (SANDBOXER_STUB_REDIS_URL), so flushing the queue's Redis does not make the "provider"
 * forget its sandboxes. Real-provider fakes (E2B HTTP, Modal gRPC) can be added as further
 * route entries through `configDir` (see docs/reliability.md, "Adding a provider").
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { inArray } from "drizzle-orm";
import { Redis } from "ioredis";
import { stubControl, type StubFault } from "../../adapters/saas-stub/stub-adapter";
import { migrateDb, openDb, type DbHandle } from "../../db/client";
import { creditLedger, reconcilerFindings, sandboxEvents, sandboxes, teamCredits, usageRecords } from "../../db/schema";
import { loadEnv } from "../../server/env";
import { isAppError } from "../../server/errors";
import { createLogger } from "../../server/logger";
import { createRuntime, type Runtime } from "../../server/runtime";
import { reconcileExtension, type ReconcileReport } from "../../server/services/reconcile";
import { createSandbox, destroySandbox, previewCreate } from "../../server/services/sandboxes";
import { seedTeam } from "../../server/testing/harness";
import { PrivateRedis, ROOT, sleep, WorkerProcess, type WorkerExit } from "./procs";
import { createThrowawayDatabase, STUB_EXTENSIONS, writeChaosConfig } from "./setup";

export type ChaosOptions = {
  /** Sandbox lifecycles to run. */
  lifecycles: number;
  /** Worker processes. */
  workers: number;
  /** Lifecycles the driver keeps in flight. */
  inFlight: number;
  /** Share of lifecycles that get a provider fault injected (per fault site), 0..1. */
  faultRate: number;
  /** FLUSHALLs of the queue's Redis, spread over the run. */
  flushes: number;
  /** Kill-and-restart (empty) of the queue's Redis, spread over the run. */
  redisRestarts: number;
  /** Mean time between worker stops, ms (exponentially distributed). */
  killEveryMs: number;
  /** Share of worker stops that are SIGTERM (graceful) instead of SIGKILL. */
  sigtermShare: number;
  sweepMs: number;
  lockMs: number;
  reconcileMs: number;
  graceMs: number;
  /** How long to wait for every sandbox to settle after the last lifecycle, ms. */
  quiesceMs: number;
  /** Extra TTL lateness tolerated beyond what the design allows (a loaded machine), ms. */
  slackMs: number;
  /** Postgres server to create the throwaway database on. */
  databaseUrl: string;
  seed: number;
  /** Keep the database and logs afterwards. */
  keep: boolean;
  /** Put the real E2B adapter, against the local E2B fake (in this process), first in the route. */
  withE2b: boolean;
  log: (line: string) => void;
};

export const chaosDefaults: Omit<ChaosOptions, "databaseUrl" | "log" | "seed"> = {
  lifecycles: 200,
  workers: 3,
  inFlight: 24,
  faultRate: 0.1,
  flushes: 2,
  redisRestarts: 2,
  killEveryMs: 1_500,
  sigtermShare: 0.25,
  sweepMs: 1_000,
  lockMs: 4_000,
  reconcileMs: 5_000,
  graceMs: 3_000,
  quiesceMs: 120_000,
  slackMs: 3_000,
  keep: false,
  withE2b: false,
};

type Kind = "destroy" | "ttl" | "cancel" | "keep";
type Tracked = { id: string; kind: Kind; teamId: string; createdAt: number };

export type ChaosReport = {
  ok: boolean;
  violations: string[];
  figures: Record<string, unknown>;
  text: string;
};

/** mulberry32: a small seeded PRNG, so a run's choices can be replayed (timing cannot). */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const rnd = prng(opts.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const violations: string[] = [];
  const violate = (msg: string) => {
    violations.push(msg);
    opts.log(`VIOLATION: ${msg}`);
  };
  const runId = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
  const workDir = path.join(ROOT, ".data", "chaos", runId);
  fs.mkdirSync(workDir, { recursive: true });
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  opts.log(`chaos run ${runId} (seed ${opts.seed}); logs in ${path.relative(ROOT, workDir)}`);

  const db = await createThrowawayDatabase(opts.databaseUrl, "sbx_chaos");
  let handle: DbHandle | null = null;
  let queueRedis: PrivateRedis | null = null;
  let stubRedis: PrivateRedis | null = null;
  let rt: Runtime | null = null;
  const slots: { proc: WorkerProcess; up: boolean; gen: number }[] = [];
  // Background loops (state watcher, admission sampler, worker killer) run while this is true.
  const loops = { on: true };
  const background: Promise<void>[] = [];
  let stubRedisClient: Redis | null = null;
  let e2bFake: Awaited<ReturnType<typeof import("../../adapters/e2b/fake/e2b-fake").startE2bFake>> | null = null;
  try {
    handle = await openDb({ kind: "postgres", url: db.url, poolSize: 20 });
    await migrateDb(handle);
    queueRedis = await PrivateRedis.start({ hz: 100, logFile: path.join(workDir, "redis-queue.log") });
    stubRedis = await PrivateRedis.start({ hz: 100, logFile: path.join(workDir, "redis-stub.log") });
    const configDir = path.join(workDir, "config");
    writeChaosConfig(configDir, { e2b: opts.withE2b });
    const prefix = `chaos-${randomBytes(4).toString("hex")}`;
    const e2bKey = `e2b_${randomBytes(20).toString("hex")}`;
    const E2B_CREATE_TIMEOUT_MS = 2_000;
    if (opts.withE2b) {
      const { startE2bFake } = await import("../../adapters/e2b/fake/e2b-fake");
      e2bFake = await startE2bFake({ config: { maxConcurrent: 1_000_000 } });
    }
    const EXTS: string[] = [...(opts.withE2b ? ["ext.e2b"] : []), ...STUB_EXTENSIONS];

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: queueRedis.url,
      SANDBOXER_QUEUE_PREFIX: prefix,
      SANDBOXER_CONFIG_DIR: configDir,
      SANDBOXER_SWEEP_INTERVAL_MS: String(opts.sweepMs),
      SANDBOXER_RECONCILE_INTERVAL_MS: String(opts.reconcileMs),
      SANDBOXER_WORKER_LOCK_MS: String(opts.lockMs),
      SANDBOXER_REQUEST_STALE_MS: String(Math.max(1_000, opts.lockMs)),
      SANDBOXER_SHUTDOWN_GRACE_MS: String(opts.graceMs),
      SANDBOXER_WORKER_CONCURRENCY: "20",
      SANDBOXER_STUB_REDIS_URL: stubRedis.url,
      SANDBOXER_STUB_LATENCY_MS: "20",
      SANDBOXER_STUB_READY_DELAY_MS: "150",
      SANDBOXER_STUB_FAIL_RATE: "0",
      SANDBOXER_COOLDOWN_MS: "2000",
      SANDBOXER_LOG_LEVEL: "warn",
      SANDBOXER_FIN_HUB_URL: "",
      E2B_API_KEY: opts.withE2b ? e2bKey : "",
      SANDBOXER_E2B_API_URL: e2bFake?.url ?? "",
      SANDBOXER_E2B_CREATE_TIMEOUT_MS: String(E2B_CREATE_TIMEOUT_MS),
      SANDBOXER_E2B_REQUEST_TIMEOUT_MS: "3000",
      SANDBOXER_E2B_READY_POLL_MS: "50",
      MODAL_TOKEN_ID: "",
      MODAL_TOKEN_SECRET: "",
    };
    const driverLog = fs.createWriteStream(path.join(workDir, "driver.log"));
    rt = await createRuntime({
      env: loadEnv(env),
      db: handle,
      keyPrefix: prefix,
      logger: createLogger({ level: "warn", destination: driverLog }),
      // The driver only enqueues and checks; its own provider calls (listings) need no latency.
      processEnv: { ...env, SANDBOXER_STUB_LATENCY_MS: "0" },
    });
    const R = rt;
    R.queue.queue.on("error", (err) => R.logger.warn({ err: { message: err.message } }, "queue connection error"));
    const stubClient = new Redis(stubRedis.url);
    stubClient.on("error", () => {});
    stubRedisClient = stubClient;
    const stub = (ext: string) => stubControl(stubClient, prefix, ext);

    // Teams: two well funded, one that can hold only a few sandboxes at a time.
    const rich = 10n ** 12n;
    const teamA = await seedTeam(R, rich, "chaos A");
    const teamB = await seedTeam(R, rich, "chaos B");
    const teamC = await seedTeam(R, 0n, "chaos C (tight)");
    const hold300 = BigInt((await previewCreate(R, teamA, "chaos", 300)).holdMicros);
    const { topUp } = await import("../../server/services/credits");
    await topUp(R.db, { teamId: teamC, amountMicros: hold300 * 4n, idempotencyKey: "chaos" });

    // ---------------------------------------------------------------------------------------
    // Workers
    const logFile = (name: string) => path.join(workDir, `${name}.log`);
    const startSlot = async (i: number, gen: number) => {
      const name = `w${i + 1}.${gen}`;
      const proc = await WorkerProcess.start(name, env, { logFile: logFile(name) });
      await proc.waitReady();
      return proc;
    };
    const procs = await Promise.all(Array.from({ length: opts.workers }, (_, i) => startSlot(i, 0)));
    procs.forEach((proc) => slots.push({ proc, up: true, gen: 0 }));
    opts.log(`[${elapsed()}] ${opts.workers} workers ready; queue Redis :${queueRedis.port}, stub Redis :${stubRedis.port}, db ${db.name}`);

    // ---------------------------------------------------------------------------------------
    // State watcher: one query for every sandbox someone is waiting on.
    const waiters = new Map<string, { states: string[]; resolve: (s: string) => void }[]>();
    const watcher = (async () => {
      while (loops.on) {
        const ids = [...waiters.keys()];
        if (ids.length) {
          const rows = await R.db.select({ id: sandboxes.id, state: sandboxes.state }).from(sandboxes).where(inArray(sandboxes.id, ids));
          for (const r of rows) {
            const ws = waiters.get(r.id) ?? [];
            const left = ws.filter((w) => {
              if (!w.states.includes(r.state)) return true;
              w.resolve(r.state);
              return false;
            });
            if (left.length) waiters.set(r.id, left);
            else waiters.delete(r.id);
          }
        }
        await sleep(100);
      }
    })();
    background.push(watcher);
    const waitState = (id: string, states: string[], ms: number) =>
      Promise.race([
        new Promise<string>((resolve) => waiters.set(id, [...(waiters.get(id) ?? []), { states, resolve }])),
        sleep(ms).then(() => "timeout"),
      ]);

    // Admission: the ledger must never let a team hold more than it has.
    let minAvailable: bigint | null = null;
    let admissionSamples = 0;
    const sampler = (async () => {
      while (loops.on) {
        const rows = await R.db.select().from(teamCredits);
        admissionSamples++;
        for (const r of rows) {
          const avail = r.balanceMicros - r.heldMicros;
          if (minAvailable === null || avail < minAvailable) minAvailable = avail;
          if (r.heldMicros < 0n) violate(`team ${r.teamId} held ${r.heldMicros} < 0`);
        }
        await sleep(250);
      }
    })();

    background.push(sampler);

    // ---------------------------------------------------------------------------------------
    // Worker kills and restarts.
    type Stop = { at: number; worker: string; signal: NodeJS.Signals; provisionsInFlight: number; teardownsInFlight: number; exitMs: number; exit: WorkerExit };
    const stops: Stop[] = [];
    let restarts = 0;
    const startupMs: number[] = [];
    let killing = true;
    // One stop-and-restart of one worker; the restart runs while the killer picks its next target.
    const stopAndRestart = async (slot: (typeof slots)[number], signal: NodeJS.Signals, inFlight: { provision: number; teardown: number }) => {
      const at = Date.now();
      slot.up = false;
      slot.proc.kill(signal);
      const limit = opts.graceMs + 15_000;
      const exit = await Promise.race([slot.proc.exited, sleep(limit).then(() => null)]);
      if (!exit) {
        violate(`worker ${slot.proc.name} did not exit within ${limit} ms of ${signal}`);
        slot.proc.kill("SIGKILL");
      }
      const finished = exit ?? (await slot.proc.exited);
      const exitMs = finished.at - at;
      stops.push({ at, worker: slot.proc.name, signal, provisionsInFlight: inFlight.provision, teardownsInFlight: inFlight.teardown, exitMs, exit: finished });
      if (signal === "SIGTERM" && (finished.code !== 0 || exitMs > opts.graceMs + opts.slackMs)) {
        violate(`worker ${slot.proc.name} SIGTERM: exit code ${finished.code} after ${exitMs} ms (grace ${opts.graceMs} ms)`);
      }
      await sleep(rnd() * 300);
      slot.gen++;
      const t = Date.now();
      slot.proc = await startSlot(slots.indexOf(slot), slot.gen);
      startupMs.push(Date.now() - t);
      slot.up = true;
      restarts++;
    };
    const restarting: Promise<void>[] = [];
    const killer = (async () => {
      while (killing && loops.on) {
        await sleep(-Math.log(1 - rnd()) * opts.killEveryMs);
        if (!killing || !loops.on) break;
        // At least one worker always stays up (with one worker, it is only stopped when it is up).
        const up = slots.filter((s) => s.up);
        if (up.length < Math.min(2, slots.length)) continue;
        // Prefer a worker that is in the middle of a provision or teardown right now.
        let slot = pick(up);
        let inFlight = { provision: 0, teardown: 0 };
        for (let tries = 0; tries < 15; tries++) {
          const active = await R.queue.queue.getJobs(["active"]).catch(() => []);
          const busy = up.filter((s) => s.up && active.some((j) => j.processedBy === s.proc.name && (j.name === "sandbox.provision" || j.name === "sandbox.teardown")));
          if (busy.length) {
            slot = pick(busy);
            const mine = active.filter((j) => j.processedBy === slot.proc.name);
            inFlight = {
              provision: mine.filter((j) => j.name === "sandbox.provision").length,
              teardown: mine.filter((j) => j.name === "sandbox.teardown").length,
            };
            break;
          }
          await sleep(40);
        }
        if (!slot.up) continue;
        const signal: NodeJS.Signals = rnd() < opts.sigtermShare ? "SIGTERM" : "SIGKILL";
        restarting.push(stopAndRestart(slot, signal, inFlight));
      }
      await Promise.all(restarting);
    })();

    background.push(killer);

    // ---------------------------------------------------------------------------------------
    // Redis trouble, spread evenly over the lifecycles (by how many have finished).
    const redisEvents: { kind: "flush" | "restart"; at: number; downMs: number }[] = [];
    const plan: ("flush" | "restart")[] = [];
    for (let i = 0; i < Math.max(opts.flushes, opts.redisRestarts); i++) {
      if (i < opts.flushes) plan.push("flush");
      if (i < opts.redisRestarts) plan.push("restart");
    }
    const thresholds = plan.map((_, i) => Math.floor((opts.lifecycles * (i + 1)) / (plan.length + 1)));
    const redisTasks: Promise<void>[] = [];
    const fireRedisEvent = (kind: "flush" | "restart") =>
      redisTasks.push(
        (async () => {
          const at = Date.now();
          if (kind === "flush") {
            const c = new Redis(queueRedis!.url);
            c.on("error", () => {});
            await c.flushall();
            c.disconnect();
            redisEvents.push({ kind, at, downMs: 0 });
          } else {
            const { downMs } = await queueRedis!.restart();
            redisEvents.push({ kind, at, downMs });
          }
          opts.log(`[${elapsed()}] queue Redis ${kind === "flush" ? "flushed (FLUSHALL)" : "killed and restarted empty"}`);
        })(),
      );

    // ---------------------------------------------------------------------------------------
    // Faults on the simulated providers, injected at the configured rate.
    const faultsInjected: Record<string, number> = {};
    const inject = async (ext: string, op: "provision" | "teardown" | "waitReady", fault: StubFault, label: string) => {
      await stub(ext).inject(op, fault);
      faultsInjected[label] = (faultsInjected[label] ?? 0) + 1;
    };
    const provisionFaults: [string, () => StubFault][] = [
      ["create 429 Retry-After", () => ({ kind: "rate_limited", status: 429, retryAfterMs: 300 + Math.floor(rnd() * 900) })],
      ["create 503", () => ({ kind: "unavailable", status: 503 })],
      ["create timeout", () => ({ kind: "timeout", message: "stub: request timed out" })],
      ["create reply lost", () => ({ kind: "timeout", message: "stub: reply lost after create", afterEffect: true })],
    ];
    const teardownFaults: [string, () => StubFault][] = [
      ["teardown 429 Retry-After", () => ({ kind: "rate_limited", status: 429, retryAfterMs: 200 + Math.floor(rnd() * 800) })],
      ["teardown 503", () => ({ kind: "unavailable", status: 502 })],
      ["teardown timeout", () => ({ kind: "timeout", message: "stub: request timed out" })],
    ];

    // ---------------------------------------------------------------------------------------
    // Lifecycles.
    const tracked: Tracked[] = [];
    const refused: Record<string, number> = {};
    const driverErrors: string[] = [];
    let launched = 0;
    const kinds: [Kind, number][] = [
      ["destroy", 0.6],
      ["ttl", 0.2],
      ["cancel", 0.1],
      ["keep", 0.1],
    ];
    const pickKind = (): Kind => {
      let x = rnd();
      for (const [k, w] of kinds) if ((x -= w) < 0) return k;
      return "destroy";
    };
    const e2bProvisionFaults: [string, () => import("../../adapters/e2b/fake/e2b-fake").FakeFault][] = [
      ["e2b create 429 Retry-After", () => ({ op: "create", status: 429, retryAfterSeconds: 1 })],
      ["e2b create 503", () => ({ op: "create", status: 503, errorCode: "unavailable" })],
      ["e2b create reply lost", () => ({ op: "create", slowCreate: { createAfterMs: 50, replyAfterMs: E2B_CREATE_TIMEOUT_MS + 1_000 } })],
    ];
    const e2bTeardownFaults: [string, () => import("../../adapters/e2b/fake/e2b-fake").FakeFault][] = [
      ["e2b kill 502", () => ({ op: "kill", status: 502 })],
      ["e2b kill 429 Retry-After", () => ({ op: "kill", status: 429, retryAfterSeconds: 1 })],
    ];
    const injectE2b = (f: import("../../adapters/e2b/fake/e2b-fake").FakeFault, label: string) => {
      e2bFake!.inject(f);
      faultsInjected[label] = (faultsInjected[label] ?? 0) + 1;
    };
    const lifecycle = async (n: number) => {
      const kind = pickKind();
      const teamId = rnd() < 0.2 ? teamC : rnd() < 0.5 ? teamA : teamB;
      const ttlSeconds = kind === "ttl" ? 2 + Math.floor(rnd() * 3) : kind === "keep" ? 3600 : 300;
      if (rnd() < opts.faultRate) {
        if (e2bFake && rnd() < 0.6) {
          const [label, f] = pick(e2bProvisionFaults);
          injectE2b(f(), label);
        } else {
          const [label, f] = pick(provisionFaults);
          // Mostly on the first stub entry; sometimes on the fallback.
          await inject(rnd() < 0.8 ? STUB_EXTENSIONS[0] : STUB_EXTENSIONS[1], "provision", f(), label);
        }
      }
      if (rnd() < opts.faultRate / 2) await inject(STUB_EXTENSIONS[0], "waitReady", { kind: "timeout", message: "stub: not ready in time" }, "not ready in time");
      if (e2bFake && rnd() < opts.faultRate) {
        const [label, f] = pick(e2bTeardownFaults);
        injectE2b(f(), label);
      } else if (rnd() < opts.faultRate) {
        const [label, f] = pick(teardownFaults);
        await inject(rnd() < 0.8 ? STUB_EXTENSIONS[0] : STUB_EXTENSIONS[1], "teardown", f(), label);
      }
      let id: string;
      try {
        id = (await createSandbox(R, { teamId, userId: null }, { profile: "chaos", ttlSeconds })).id;
      } catch (err) {
        const code = isAppError(err) ? err.code : "error";
        refused[code] = (refused[code] ?? 0) + 1;
        if (!isAppError(err)) driverErrors.push(`create #${n}: ${(err as Error).message}`);
        return;
      }
      tracked.push({ id, kind, teamId, createdAt: Date.now() });
      if (kind === "cancel") {
        await sleep(rnd() * 150);
        await destroySandbox(R, { teamId, userId: null }, id);
        return;
      }
      const state = await waitState(id, ["ready", "failed", "destroyed", "lost"], opts.quiesceMs);
      if (state === "ready" && kind === "destroy") {
        await sleep(rnd() * 1_000);
        await destroySandbox(R, { teamId, userId: null }, id);
      }
    };
    let finished = 0;
    const runners = Array.from({ length: opts.inFlight }, async () => {
      while (launched < opts.lifecycles) {
        const n = launched++;
        await lifecycle(n).catch((err) => driverErrors.push(`lifecycle #${n}: ${(err as Error).message}`));
        finished++;
        while (thresholds.length && finished >= thresholds[0]!) {
          thresholds.shift();
          fireRedisEvent(plan.shift()!);
        }
        if (finished % 50 === 0) opts.log(`[${elapsed()}] ${finished}/${opts.lifecycles} lifecycles driven`);
      }
    });
    await Promise.all(runners);
    await Promise.all(redisTasks);
    opts.log(`[${elapsed()}] all ${opts.lifecycles} lifecycles driven; stopping the chaos`);
    killing = false;
    await killer;

    // ---------------------------------------------------------------------------------------
    // Quiescence: every sandbox settled (ended, or a kept one ready), no job left on a dead worker.
    const keepIds = new Set(tracked.filter((t) => t.kind === "keep").map((t) => t.id));
    const deadline = Date.now() + opts.quiesceMs;
    let unsettled: { id: string; state: string }[] = [];
    for (;;) {
      const rows = await R.db.select({ id: sandboxes.id, state: sandboxes.state }).from(sandboxes);
      unsettled = rows.filter((r) => !["destroyed", "failed", "lost"].includes(r.state) && !(r.state === "ready" && keepIds.has(r.id)));
      const names = new Set(slots.map((s) => s.proc.name));
      const orphanedActive = (await R.queue.queue.getJobs(["active"])).filter((j) => j.processedBy && !names.has(j.processedBy));
      if (unsettled.length === 0 && orphanedActive.length === 0) break;
      if (Date.now() > deadline) {
        violate(`not quiescent after ${opts.quiesceMs} ms: ${unsettled.length} sandboxes unsettled (${unsettled.slice(0, 5).map((u) => `${u.id} ${u.state}`).join(", ")}), ${orphanedActive.length} jobs active on dead workers`);
        break;
      }
      await sleep(250);
    }
    const quiescedAt = Date.now();
    opts.log(`[${elapsed()}] quiescent; stopping workers with SIGTERM`);

    // Stop every worker gracefully: each must exit within its grace period, leaving nothing active.
    const finalStops = await Promise.all(
      slots.map(async (s) => {
        const at = Date.now();
        s.proc.kill("SIGTERM");
        const exit = await Promise.race([s.proc.exited, sleep(opts.graceMs + 15_000).then(() => null)]);
        s.up = false;
        if (!exit) {
          s.proc.kill("SIGKILL");
          violate(`worker ${s.proc.name} did not exit after SIGTERM`);
          return { worker: s.proc.name, exitMs: NaN, code: null };
        }
        if (exit.code !== 0) violate(`worker ${s.proc.name} exited with code ${exit.code} (signal ${exit.signal}) after SIGTERM`);
        return { worker: s.proc.name, exitMs: exit.at - at, code: exit.code };
      }),
    );
    const activeLeft = await R.queue.queue.getActiveCount();
    if (activeLeft !== 0) violate(`${activeLeft} jobs left active after every worker stopped`);
    loops.on = false;
    await Promise.all([watcher, sampler]);

    // ---------------------------------------------------------------------------------------
    // One reconciler pass per extension, then the checks.
    const faultsLeft: Record<string, number> = {};
    for (const ext of STUB_EXTENSIONS) {
      for (const op of ["provision", "teardown", "waitReady"] as const) {
        const n = await stubClient.llen(`${prefix}:stub${ext === "ext.saas-stub" ? "" : `:${ext}`}:faults:${op}`);
        if (n) faultsLeft[`${ext} ${op}`] = n;
      }
      await stub(ext).clearFaults();
    }
    e2bFake?.clearFaults();
    const reconcile: ReconcileReport[] = [];
    for (const ext of EXTS) reconcile.push(await reconcileExtension(R, ext));
    for (const r of reconcile) if (r.aborted) violate(`reconciler pass on ${r.extensionId} aborted: ${r.aborted}`);

    const rows = await R.db.select().from(sandboxes);
    const ledger = await R.db.select().from(creditLedger);
    const usage = await R.db.select().from(usageRecords);
    const credits = await R.db.select().from(teamCredits);
    const findings = await R.db.select().from(reconcilerFindings);
    const events = await R.db.select({ sandboxId: sandboxEvents.sandboxId, toState: sandboxEvents.toState, reason: sandboxEvents.reason, at: sandboxEvents.at }).from(sandboxEvents).orderBy(sandboxEvents.seq);

    const byId = <T extends { sandboxId: string | null }>(xs: T[]) => {
      const m = new Map<string, T[]>();
      for (const x of xs) if (x.sandboxId) m.set(x.sandboxId, [...(m.get(x.sandboxId) ?? []), x]);
      return m;
    };
    const ledgerBy = byId(ledger);
    const usageBy = byId(usage);
    const kindOf = new Map(tracked.map((t) => [t.id, t.kind]));

    // 1. Every request ended ready (kept) / destroyed, or failed with a reason; exactly one usage
    //    record and one debit per ended sandbox; no hold left on a finished one.
    for (const r of rows) {
      const l = ledgerBy.get(r.id) ?? [];
      const count = (k: string) => l.filter((e) => e.kind === k).length;
      const u = usageBy.get(r.id) ?? [];
      if (count("hold") !== 1) violate(`${r.id}: ${count("hold")} hold entries`);
      if (r.state === "destroyed" || r.state === "lost") {
        if (u.length !== 1) violate(`${r.id} ${r.state}: ${u.length} usage records`);
        if (count("debit") !== 1) violate(`${r.id} ${r.state}: ${count("debit")} debits`);
        if (count("hold_release") !== 1) violate(`${r.id} ${r.state}: ${count("hold_release")} hold releases`);
        const debit = l.find((e) => e.kind === "debit");
        if (u[0] && debit && (u[0].costMicros !== debit.amountMicros || r.costMicros !== debit.amountMicros)) {
          violate(`${r.id}: usage ${u[0].costMicros}, debit ${debit.amountMicros}, row ${r.costMicros} differ`);
        }
        if (r.holdMicros !== 0n) violate(`${r.id} ${r.state}: hold ${r.holdMicros} left`);
        if (r.state === "lost") violate(`${r.id} marked lost, but the simulated providers never end a sandbox early`);
      } else if (r.state === "failed") {
        if (u.length || count("debit")) violate(`${r.id} failed but billed (${u.length} usage, ${count("debit")} debits)`);
        if (count("hold_release") !== 1) violate(`${r.id} failed: ${count("hold_release")} hold releases`);
        if (r.holdMicros !== 0n) violate(`${r.id} failed: hold ${r.holdMicros} left`);
        if (!r.failureReason) violate(`${r.id} failed without a reason`);
      } else if (r.state === "ready") {
        if (kindOf.get(r.id) !== "keep") violate(`${r.id} still ready but was meant to end (${kindOf.get(r.id)})`);
        if (u.length || count("debit") || count("hold_release")) violate(`${r.id} ready but already settled`);
      } else {
        violate(`${r.id} left in ${r.state}`);
      }
    }
    // 2. Balances: balance = top-ups − debits; held = the holds of live sandboxes = holds − releases.
    for (const c of credits) {
      const mine = ledger.filter((e) => e.teamId === c.teamId);
      const sum = (...kinds: string[]) => mine.filter((e) => kinds.includes(e.kind)).reduce((a, e) => a + e.amountMicros, 0n);
      const liveHolds = rows.filter((r) => r.teamId === c.teamId && !["destroyed", "failed", "lost"].includes(r.state)).reduce((a, r) => a + r.holdMicros, 0n);
      if (c.balanceMicros !== sum("topup") - sum("debit")) violate(`team ${c.teamId}: balance ${c.balanceMicros} ≠ top-ups ${sum("topup")} − debits ${sum("debit")}`);
      if (c.heldMicros !== liveHolds) violate(`team ${c.teamId}: held ${c.heldMicros} ≠ live holds ${liveHolds}`);
      if (c.heldMicros !== sum("hold", "hold_grow") - sum("hold_release")) violate(`team ${c.teamId}: held ${c.heldMicros} ≠ ledger holds − releases`);
      if (c.balanceMicros - c.heldMicros < 0n) violate(`team ${c.teamId}: available ${c.balanceMicros - c.heldMicros} < 0`);
    }
    if (minAvailable !== null && minAvailable < 0n) violate(`a team's available credit went to ${minAvailable} during the run`);
    // 3. The provider's live set equals the ledger's live set, per extension.
    let providerLive = 0;
    for (const ext of EXTS) {
      const credentials: Record<string, string> = ext === "ext.e2b" ? { api_key: e2bKey } : {};
      const ctx = { logger: R.logger, clock: R.clock, credentials };
      const listed = new Set((await R.adapters.get(ext)!.list(ctx)).filter((s) => s.state !== "ended").map((s) => s.providerSandboxId));
      const live = new Set(rows.filter((r) => r.extensionId === ext && ["provisioning", "ready", "destroying"].includes(r.state)).map((r) => r.providerSandboxId ?? `(none for ${r.id})`));
      providerLive += listed.size;
      const extra = [...listed].filter((p) => !live.has(p));
      const missing = [...live].filter((p) => !listed.has(p));
      if (extra.length) violate(`${ext}: ${extra.length} provider sandboxes running with no live row (${extra.slice(0, 3).join(", ")})`);
      if (missing.length) violate(`${ext}: ${missing.length} live rows with no running provider sandbox (${missing.slice(0, 3).join(", ")})`);
    }
    // 4. Provider creates per sandbox: duplicates from lost replies and retries were all cleaned up.
    let creates = 0;
    for (const ext of STUB_EXTENSIONS) creates += await stub(ext).createCount();
    const e2bCreates = new Map<string, number>();
    for (const sbx of e2bFake?.sandboxes() ?? []) {
      const id = sbx.metadata.sandboxer_sandbox_id;
      if (id) e2bCreates.set(id, (e2bCreates.get(id) ?? 0) + 1);
    }
    creates += [...e2bCreates.values()].reduce((a, b) => a + b, 0);
    const tagged = await Promise.all(
      rows.map(async (r) => {
        let n = 0;
        for (const ext of STUB_EXTENSIONS) n += await stubClient.scard(`${prefix}:stub${ext === "ext.saas-stub" ? "" : `:${ext}`}:tag:${r.id}`);
        return n + (e2bCreates.get(r.id) ?? 0);
      }),
    );
    // 5. TTL teardowns: started within the sweep interval of expiry (plus what a worker crash or a
    //    Redis outage in between adds by design).
    const firstEvent = (id: string, pred: (e: (typeof events)[number]) => boolean) => events.find((e) => e.sandboxId === id && pred(e));
    const lateness: number[] = [];
    const lateBySweep: number[] = [];
    let sweepTeardowns = 0;
    for (const r of rows) {
      if (!r.expiresAt || r.destroyRequestedAt) continue;
      const start = firstEvent(r.id, (e) => e.toState === "destroying");
      if (!start) continue;
      if (start.reason.includes("found by sweep")) sweepTeardowns++;
      const late = start.at.getTime() - r.expiresAt.getTime();
      lateness.push(late);
      const exp = r.expiresAt.getTime();
      let bound = opts.sweepMs + opts.slackMs;
      // A worker killed while holding the TTL job keeps it "active" until its lock runs out and
      // the stall check returns it: up to two lock periods.
      if (stops.some((s) => s.at >= exp - opts.lockMs && s.at <= start.at.getTime())) bound += 2 * opts.lockMs;
      for (const ev of redisEvents) {
        if (ev.kind === "restart" && ev.at <= start.at.getTime() && ev.at + ev.downMs + 2_000 >= exp) bound += ev.downMs + 2_000;
      }
      if (redisEvents.some((ev) => ev.at <= exp && ev.at >= r.readyAt!.getTime())) lateBySweep.push(late);
      if (late > bound) violate(`${r.id}: TTL teardown started ${late} ms after expiry (allowed ${bound} ms)`);
    }

    // ---------------------------------------------------------------------------------------
    // Figures.
    const readyLat: number[] = [];
    for (const r of rows) {
      if (r.readyAt) readyLat.push(r.readyAt.getTime() - r.createdAt.getTime());
    }
    const states: Record<string, number> = {};
    for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
    const failReasons: Record<string, number> = {};
    for (const r of rows.filter((r) => r.state === "failed")) {
      const key = (r.failureReason ?? "").replace(/sbx_[a-z0-9]+|stub-[0-9a-f]+|\d{4}-\d\d-\d\dT[\d:.]+Z|\d+/g, "…").slice(0, 120);
      failReasons[key] = (failReasons[key] ?? 0) + 1;
    }
    const byKind: Record<string, Record<string, number>> = {};
    for (const r of rows) {
      const k = kindOf.get(r.id) ?? "?";
      byKind[k] ??= {};
      byKind[k][r.state] = (byKind[k][r.state] ?? 0) + 1;
    }
    const findingCounts: Record<string, number> = {};
    for (const f of findings) {
      const key = `${f.kind} (${f.detail ?? "-"}): ${f.action.split(":")[0]}`.slice(0, 120);
      findingCounts[key] = (findingCounts[key] ?? 0) + 1;
    }
    const kills = stops.filter((s) => s.signal === "SIGKILL");
    const terms = stops.filter((s) => s.signal === "SIGTERM");
    const injected = Object.values(faultsInjected).reduce((a, b) => a + b, 0);
    const left = Object.values(faultsLeft).reduce((a, b) => a + b, 0);
    if (driverErrors.length) violate(`driver errors: ${driverErrors.slice(0, 3).join("; ")}`);

    const figures = {
      run: { id: runId, seed: opts.seed, seconds: Math.round((quiescedAt - t0) / 100) / 10, workers: opts.workers, lifecycles: opts.lifecycles, faultRate: opts.faultRate },
      sandboxes: rows.length,
      refusedAtAdmission: refused,
      outcomes: states,
      outcomesByKind: byKind,
      failureReasons: failReasons,
      createToReadyMs: { n: readyLat.length, p50: pct(readyLat, 50), p99: pct(readyLat, 99), max: Math.max(...readyLat) },
      ttlTeardownLatenessMs: { n: lateness.length, p50: pct(lateness, 50), p99: pct(lateness, 99), max: lateness.length ? Math.max(...lateness) : NaN, startedBySweep: sweepTeardowns },
      ttlLatenessAcrossRedisTroubleMs: { n: lateBySweep.length, max: lateBySweep.length ? Math.max(...lateBySweep) : NaN },
      workerStops: {
        sigkill: kills.length,
        sigkillWithProvisionInFlight: kills.filter((s) => s.provisionsInFlight > 0).length,
        sigkillWithTeardownInFlight: kills.filter((s) => s.teardownsInFlight > 0).length,
        sigterm: terms.length,
        sigtermWithJobsInFlight: terms.filter((s) => s.provisionsInFlight + s.teardownsInFlight > 0).length,
        sigtermExitMsMax: terms.length ? Math.max(...terms.map((s) => s.exitMs)) : NaN,
        restarts,
        restartToReadyMsP50: pct(startupMs, 50),
        finalSigtermExitMs: finalStops.map((s) => s.exitMs),
      },
      redis: redisEvents.map((e) => `${e.kind}${e.kind === "restart" ? ` (down ${e.downMs} ms)` : ""}`),
      // The E2B fake does not say which of its faults were used; the stub's leftovers are counted.
      faults: { injected, byType: faultsInjected, stubFaultsUnused: left, stubUnusedByExtension: faultsLeft },
      provider: { routedTo: Object.fromEntries(EXTS.map((e) => [e, rows.filter((r) => r.extensionId === e).length])), creates, sandboxesWithMoreThanOneCreate: tagged.filter((n) => n > 1).length, liveAtEnd: providerLive },
      reconciler: { finalPass: reconcile.map((r) => ({ ext: r.extensionId, listed: r.listed, orphansKilled: r.orphansKilled, lost: r.lost })), findingsDuringRun: findingCounts },
      admission: { samples: admissionSamples, minAvailableMicros: String(minAvailable) },
      violations: violations.length,
    };
    const text = formatReport(figures, violations);
    const ok = violations.length === 0;
    // Logs are kept when something was violated (or on request), to read what happened.
    if (ok && !opts.keep) fs.rmSync(workDir, { recursive: true, force: true });
    else opts.log(`logs kept in ${path.relative(ROOT, workDir)}`);
    return { ok, violations, figures, text };
  } finally {
    loops.on = false;
    await Promise.all(background.map((p) => p.catch(() => {})));
    stubRedisClient?.disconnect();
    for (const s of slots) {
      s.proc.kill("SIGKILL");
    }
    await Promise.all(slots.map((s) => Promise.race([s.proc.exited, sleep(5_000)])));
    await rt?.close().catch(() => {});
    await queueRedis?.destroy();
    await stubRedis?.destroy();
    await handle?.close().catch(() => {});
    await e2bFake?.close().catch(() => {});
    if (!opts.keep) {
      await db.drop().catch((err) => opts.log(`could not drop ${db.name}: ${(err as Error).message}`));
    } else {
      opts.log(`kept database ${db.url}`);
    }
  }
}

function formatReport(f: Record<string, unknown>, violations: string[]): string {
  const lines: string[] = ["", "=== chaos figures ==="];
  for (const [k, v] of Object.entries(f)) lines.push(`${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  lines.push("");
  if (violations.length === 0) lines.push("every check met: provider live set = ledger live set; one usage record, one debit and one hold release per ended sandbox; balances = top-ups − debits, held = live holds; no hold on a finished sandbox; every request ready or failed with a reason; no job left active; TTL teardowns within bounds; admission never below zero.");
  else {
    lines.push(`${violations.length} VIOLATIONS:`);
    for (const v of violations.slice(0, 50)) lines.push(`  - ${v}`);
  }
  return lines.join("\n");
}
