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
 * CPU per 1,000 records is shown for this process, for this database's Postgres backends (when
 * the server is on this machine; on PGlite it is in this process's) and for the receiver, with
 * the 1-minute load average at the end of the run (the machine's other work shares the cores).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
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

/** CPU ms a local process has used (Linux /proc), or null when it cannot be read. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 100 Hz ticks
  } catch {
    return null;
  }
}

/**
 * CPU of this database's Postgres backends, when the server runs on this machine: per backend
 * pid, what it has used so far. A backend that exits in between is missed (the pool keeps them).
 */
async function postgresCpu(rt: Runtime): Promise<Map<number, number> | null> {
  const res = (await rt.db.execute(sql`select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend'`)) as unknown as { rows: { pid: number }[] };
  const out = new Map<number, number>();
  for (const { pid } of res.rows) {
    const ms = processCpuMs(Number(pid));
    if (ms === null) return null;
    out.set(Number(pid), ms);
  }
  return out;
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
    pid: child.pid!,
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
  // On PGlite the database runs in this process: its CPU is in ours.
  const pg0 = process.env.BENCH_DATABASE_URL ? await postgresCpu(rt) : null;
  const rcv0 = processCpuMs(receiver.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runFinHubExport(rt, { cfg, budgetMs: 3_600_000 });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const load = loadavg()[0]!;
  const rcv1 = processCpuMs(receiver.pid);
  const pg1 = pg0 ? await postgresCpu(rt) : null;
  // Backends that opened during the run count whole; the query above runs in one of them.
  const pgMs = pg0 && pg1 ? [...pg1].reduce((sum, [pid, used]) => sum + used - (pg0.get(pid) ?? 0), 0) : null;
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
    pgCpuMsPer1k: pgMs === null ? null : (pgMs / result.recordsSent) * 1000,
    receiverCpuMsPer1k: rcv0 === null || rcv1 === null ? null : ((rcv1 - rcv0) / result.recordsSent) * 1000,
    load,
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
    console.log("receiver               records  batches  seconds  records/s  CPU ms/1k: this  Postgres  receiver  load avg  totals match  fin-hub total");
    const ms = (v: number | null, w: number) => (v === null ? "—" : v.toFixed(1)).padStart(w);
    for (const r of rows) {
      console.log(
        `${r.label.padEnd(22)} ${String(r.records).padStart(7)}  ${String(r.batches).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${Math.round(r.perSecond).toString().padStart(9)}  ${ms(r.cpuMsPer1k, 15)}  ${ms(r.pgCpuMsPer1k, 8)}  ${ms(r.receiverCpuMsPer1k, 8)}  ${r.load.toFixed(2).padStart(8)}  ${String(r.totalsMatch).padStart(12)}  $${r.total}`,
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
