/**
 * bench/export: fin-hub export throughput — usage records per second from the outbox to a local
 * receiver that verifies every signature and stores every batch — with a zero-latency receiver
 * and with one that takes 100 ms per batch.
 *
 *   npx tsx bench/export.ts [--records 100000] [--batch-size 1000] [--concurrency 4] [--slow-records 20000]
 *   BENCH_DATABASE_URL=postgres://… to run on Postgres instead of in-memory PGlite.
 *
 * The receiver (scripts/fin-hub-receiver.ts) runs in its own process, verifying and storing
 * every batch; totals are read back from it. Records and outbox rows are inserted directly (the settle path is bench/lifecycle's business);
 * the timed part is exactly the `billing.export` job: claim (lock, read, serialize, store the
 * body), sign, POST, mark sent and exported. It checks that fin-hub's total equals the ledger's.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { migrateDb, openDb } from "../db/client";
import { billingOutbox, usageRecords } from "../db/schema";
import { loadEnv } from "../server/env";
import type { FinHubConfig } from "../server/fin-hub/config";
import { recordJsonOf } from "../server/fin-hub/payload";
import { newId } from "../server/ids";
import { createLogger } from "../server/logger";
import { formatMicros } from "../server/money";
import { createRuntime, type Runtime } from "../server/runtime";
import { finHubReconciliation, runFinHubExport } from "../server/services/fin-hub";
import { deleteKeys, seedTeam } from "../server/testing/harness";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "100000" },
    "slow-records": { type: "string", default: "20000" },
    "batch-size": { type: "string", default: "1000" },
    concurrency: { type: "string", default: "4" },
    "latency-ms": { type: "string", default: "100" },
  },
});
const SECRET = randomBytes(24).toString("hex");

async function seed(rt: Runtime, n: number) {
  const teamName = `Bench team ${randomBytes(2).toString("hex")} — Zürich ☃`;
  const teamId = await seedTeam(rt, 0n, teamName);
  const base = Date.now() - 86_400_000;
  let micros = 0n;
  for (let i = 0; i < n; i += 2_000) {
    const chunk = Array.from({ length: Math.min(2_000, n - i) }, (_, k) => {
      const j = i + k;
      const started = new Date(base + j * 10);
      const durationMs = 1_000 + (j % 60_000);
      const cost = BigInt(26 * Math.ceil(durationMs / 1000));
      micros += cost;
      return {
        id: newId("use", started),
        sandboxId: `sbx_bench${randomBytes(8).toString("hex")}`,
        teamId,
        extensionId: "ext.saas-stub",
        profileId: "profile.burst-sandbox",
        providerSandboxId: `stub-${j}`,
        startedAt: started,
        endedAt: new Date(started.getTime() + durationMs),
        durationMs,
        resources: { vcpu: 2, memoryMiB: 512, gpu: 0, gpuType: null },
        rateCardVersion: "stub-2026-12-01",
        currency: "USD",
        costMicros: cost,
        credentialSource: "platform",
        endReason: "destroy requested",
        idempotencyKey: `usage:bench:${teamId}:${j}`,
      };
    });
    await rt.db.insert(usageRecords).values(chunk);
    await rt.db.insert(billingOutbox).values(
      chunk.map((u) => ({ usageRecordId: u.id, sandboxId: u.sandboxId, teamId, recordJson: recordJsonOf({ ...u, teamName }), costMicros: u.costMicros, currency: u.currency, createdAt: u.endedAt })),
    );
  }
  return { teamId, micros };
}

/** fin-hub in its own process (scripts/fin-hub-receiver.ts), as it would be: its CPU is not ours. */
async function startReceiverProcess(latencyMs: number) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/fin-hub-receiver.ts", "--port", "0", "--latency-ms", String(latencyMs), "--quiet"], {
    env: { ...process.env, SANDBOXER_FIN_HUB_SECRET: SECRET },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /fin-hub receiver on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`receiver exited with ${code}: ${out}`)));
  });
  const totalsUrl = url.replace(/\/batches$/, "/totals");
  return {
    url,
    totals: async () => (await (await fetch(totalsUrl)).json()) as { records: number; total_micros: string; total: string; recordConflicts: number },
    close: () => new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}

async function run(rt: Runtime, label: string, n: number, latencyMs: number) {
  const seeded = await seed(rt, n);
  const receiver = await startReceiverProcess(latencyMs);
  const cfg: FinHubConfig = {
    url: receiver.url,
    secrets: [SECRET],
    intervalMs: 1_000,
    batchSize: Number(values["batch-size"]),
    attempts: 8,
    timeoutMs: 30_000,
    concurrency: Number(values.concurrency),
    backoffBaseMs: 1_000,
    maxBackoffMs: 300_000,
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runFinHubExport(rt, { cfg, budgetMs: 3_600_000 });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rec = await finHubReconciliation(rt, seeded.teamId);
  const got = await receiver.totals();
  await receiver.close();
  const ok = got.total_micros === seeded.micros.toString() && rec.exported.micros === seeded.micros.toString() && rec.ledgerDebitMicros === "0";
  return {
    label,
    records: result.recordsSent,
    batches: result.batchesSent,
    seconds: ms / 1000,
    perSecond: result.recordsSent / (ms / 1000),
    cpuMsPer1k: ((cpu.user + cpu.system) / 1000 / result.recordsSent) * 1000,
    totalsMatch: ok && got.records === n && got.recordConflicts === 0,
    total: got.total,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

async function main() {
  // On Postgres, a throwaway database on BENCH_DATABASE_URL's server, dropped afterwards.
  const base = process.env.BENCH_DATABASE_URL;
  let url: string | undefined;
  const dbName = `sbx_bench_export_${randomBytes(4).toString("hex")}`;
  if (base) {
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${dbName}`;
    url = u.toString();
  }
  const handle = await openDb(url ? { kind: "postgres", url, poolSize: 10 } : { kind: "pglite", dataDir: null });
  await migrateDb(handle);
  const keyPrefix = `bench-${randomBytes(4).toString("hex")}`;
  const env = loadEnv({ ...process.env, SANDBOXER_FIN_HUB_URL: "" });
  const rt = await createRuntime({ env, db: handle, logger: createLogger({ level: "warn" }), keyPrefix });
  try {
    const rows = [
      await run(rt, "zero-latency receiver", Number(values.records), 0),
      await run(rt, `${values["latency-ms"]} ms receiver`, Number(values["slow-records"]), Number(values["latency-ms"])),
    ];
    console.log(
      `\nbench/export on ${url ? "Postgres" : "PGlite (in-memory)"}, batch size ${values["batch-size"]}, ${values.concurrency} batches in flight, node ${process.version}\n`,
    );
    console.log("receiver               records  batches  seconds  records/s  CPU ms/1k  totals match  fin-hub total");
    for (const r of rows) {
      console.log(
        `${r.label.padEnd(22)} ${String(r.records).padStart(7)}  ${String(r.batches).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${Math.round(r.perSecond).toString().padStart(9)}  ${r.cpuMsPer1k.toFixed(1).padStart(9)}  ${String(r.totalsMatch).padStart(12)}  $${r.total}`,
      );
    }
    console.log(`\nrss at the end: ${Math.round(rows.at(-1)!.rssMiB)} MiB`);
    if (rows.some((r) => !r.totalsMatch)) process.exitCode = 1;
  } finally {
    await rt.close();
    await handle.close();
    await deleteKeys(keyPrefix);
    if (base) {
      const admin = new pg.Client({ connectionString: base });
      await admin.connect();
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    }
  }
}

await main();
