/**
 * Two standalone worker processes (`jobs/worker-main.ts`) against one Redis and one Postgres
 * share the work with no double processing: every provision job runs once (one provider create
 * per sandbox), every sandbox gets exactly one usage record and one debit, and both processes
 * did provisions and teardowns (their own `sandboxer_jobs_total` counters on /metrics).
 * Postgres only: PGlite cannot be opened by several processes.
 */
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { inArray } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { stubControl } from "../adapters/saas-stub/stub-adapter";
import { sleep, WorkerProcess } from "../bench/chaos/procs";
import { createThrowawayDatabase, STUB_EXTENSIONS, writeChaosConfig } from "../bench/chaos/setup";
import { migrateDb, openDb } from "../db/client";
import { creditLedger, sandboxes, usageRecords } from "../db/schema";
import { loadEnv } from "../server/env";
import { createLogger } from "../server/logger";
import { createRuntime } from "../server/runtime";
import { createSandbox, destroySandbox } from "../server/services/sandboxes";
import { deleteKeys, redisUrl, seedTeam } from "../server/testing/harness";

const pgUrl = process.env.TEST_DB === "postgres" ? process.env.TEST_DATABASE_URL : undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe("two worker processes", () => {
  it.skipIf(!pgUrl)(
    `share the lifecycle work with no double processing${pgUrl ? "" : " — SKIPPED: needs Postgres (TEST_DB=postgres, TEST_DATABASE_URL)"}`,
    async () => {
      const db = await createThrowawayDatabase(pgUrl!, "sbx_test_mw");
      cleanups.push(db.drop);
      const handle = await openDb({ kind: "postgres", url: db.url, poolSize: 10 });
      cleanups.push(handle.close);
      await migrateDb(handle);
      const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-mw-"));
      cleanups.push(async () => fs.rmSync(configDir, { recursive: true, force: true }));
      writeChaosConfig(configDir);
      const prefix = `t-mw-${randomBytes(4).toString("hex")}`;
      cleanups.push(() => deleteKeys(prefix));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl(),
        SANDBOXER_QUEUE_PREFIX: prefix,
        SANDBOXER_CONFIG_DIR: configDir,
        SANDBOXER_SWEEP_INTERVAL_MS: "1000",
        // Few slots each, so neither process can take everything.
        SANDBOXER_WORKER_CONCURRENCY: "4",
        SANDBOXER_STUB_LATENCY_MS: "5",
        SANDBOXER_STUB_READY_DELAY_MS: "50",
        SANDBOXER_STUB_FAIL_RATE: "0",
        SANDBOXER_LOG_LEVEL: "warn",
        SANDBOXER_FIN_HUB_URL: "",
        E2B_API_KEY: "",
        MODAL_TOKEN_ID: "",
        MODAL_TOKEN_SECRET: "",
      };
      const workers = await Promise.all(["mw-a", "mw-b"].map((name) => WorkerProcess.start(name, env)));
      cleanups.push(async () => {
        for (const w of workers) w.kill("SIGKILL");
      });
      await Promise.all(workers.map((w) => w.waitReady(90_000)));

      const rt = await createRuntime({ env: loadEnv(env), db: handle, keyPrefix: prefix, logger: createLogger({ level: "silent" }), processEnv: env });
      cleanups.push(rt.close);
      const teamId = await seedTeam(rt, 10n ** 12n, "multi-worker");
      const actor = { teamId, userId: null };
      const N = 60;
      const ids = await Promise.all(Array.from({ length: N }, async () => (await createSandbox(rt, actor, { profile: "chaos", ttlSeconds: 600 })).id));

      const waitAll = async (state: string, ms: number) => {
        const deadline = Date.now() + ms;
        for (;;) {
          const rows = await rt.db.select({ id: sandboxes.id, state: sandboxes.state }).from(sandboxes).where(inArray(sandboxes.id, ids));
          if (rows.every((r) => r.state === state)) return;
          if (Date.now() > deadline) throw new Error(`not all ${state}: ${rows.filter((r) => r.state !== state).map((r) => `${r.id} ${r.state}`).slice(0, 5).join(", ")}`);
          await sleep(100);
        }
      };
      await waitAll("ready", 60_000);
      await Promise.all(ids.map((id) => destroySandbox(rt, actor, id)));
      await waitAll("destroyed", 60_000);

      // One provider create per sandbox: no provision ran its effect twice.
      let creates = 0;
      for (const ext of STUB_EXTENSIONS) creates += await stubControl(rt.redis, prefix, ext).createCount();
      expect(creates).toBe(N);
      const usage = await rt.db.select({ sandboxId: usageRecords.sandboxId }).from(usageRecords).where(inArray(usageRecords.sandboxId, ids));
      expect(usage.map((u) => u.sandboxId).sort()).toEqual([...ids].sort());
      const debits = (await rt.db.select().from(creditLedger).where(inArray(creditLedger.sandboxId, ids))).filter((l) => l.kind === "debit");
      expect(debits).toHaveLength(N);

      // Both processes worked; between them each provision job completed exactly once.
      const counts = await Promise.all(workers.map((w) => w.jobCounts()));
      for (const c of counts) {
        expect(c["sandbox.provision:completed"] ?? 0).toBeGreaterThan(0);
        expect(c["sandbox.teardown:completed"] ?? 0).toBeGreaterThan(0);
      }
      const total = (k: string) => counts.reduce((a, c) => a + (c[k] ?? 0), 0);
      expect(total("sandbox.provision:completed")).toBe(N);
      expect(total("sandbox.teardown:completed")).toBeGreaterThanOrEqual(N);
      console.log(`two workers: provisions ${counts.map((c) => c["sandbox.provision:completed"]).join(" + ")}, teardowns ${counts.map((c) => c["sandbox.teardown:completed"]).join(" + ")}`);

      // SIGTERM: both stop within their grace period and leave no job active.
      for (const w of workers) w.kill("SIGTERM");
      const exits = await Promise.all(workers.map((w) => w.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0]);
      expect(await rt.queue.queue.getActiveCount()).toBe(0);
    },
    180_000,
  );
});
