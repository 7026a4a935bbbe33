/**
 * bench/console: the console's two heaviest data requests over a large team — the sandboxes
 * page's list request (first page and deep cursor pages, with and without a state filter) and
 * the usage charts' summary — with 100k sandbox rows and 1M usage records in one team.
 *
 *   npx tsx bench/console.ts [--sandboxes 100000] [--usage 1000000] [--runs 30]
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/console.ts   # throwaway DB on that server
 *
 * Rows are generated inside the database (generate_series), not through lifecycles; the usage
 * records go in as one INSERT, so the usage_daily triggers roll them up exactly as they do for
 * settles (the bench checks the rollup against a GROUP BY of usage_records before timing).
 * Times are the service calls the tRPC procedures make (the HTTP and React layers are not
 * included). The load average is printed at the start and end: the figures are only comparable
 * between runs on a similarly loaded machine.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import pg from "pg";
import { migrateDb, openDb, type DbHandle } from "../db/client";
import { loadEnv } from "../server/env";
import { createLogger } from "../server/logger";
import { createRuntime } from "../server/runtime";
import { usageSummary } from "../server/services/console-usage";
import { listUsage } from "../server/services/usage";
import { listSandboxes } from "../server/services/sandboxes";
import { deleteKeys, seedTeam } from "../server/testing/harness";

const { values } = parseArgs({
  options: { sandboxes: { type: "string", default: "100000" }, usage: { type: "string", default: "1000000" }, runs: { type: "string", default: "30" } },
});
const nSandboxes = Number(values.sandboxes);
const nUsage = Number(values.usage);
const runs = Number(values.runs);

async function throwawayDb(): Promise<DbHandle & { drop: () => Promise<void> }> {
  const base = process.env.BENCH_DATABASE_URL;
  if (!base) {
    const h = await openDb({ kind: "pglite", dataDir: null });
    return { ...h, drop: h.close };
  }
  const name = `sbx_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const h = await openDb({ kind: "postgres", url: url.toString() });
  return {
    ...h,
    drop: async () => {
      await h.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function time(label: string, fn: () => Promise<unknown>) {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  console.log(`  ${label.padEnd(44)} p50 ${p(0.5)} ms  p99 ${p(0.99)} ms`);
}

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(", ");

async function main() {
  console.log(`load average (1, 5, 15 min): ${loadavg()} on ${os.cpus().length} cores`);
  const keyPrefix = `bench-console-${randomBytes(3).toString("hex")}`;
  const db = await throwawayDb();
  await migrateDb(db);
  const rt = await createRuntime({ env: loadEnv({ ...process.env, SANDBOXER_LOG_LEVEL: "warn" }), db, keyPrefix, logger: createLogger({ level: "warn" }) });
  try {
    const teamId = await seedTeam(rt, 10n ** 12n, "bench");
    console.log(`db: ${db.kind}; seeding ${nSandboxes} sandboxes and ${nUsage} usage records…`);
    const t0 = performance.now();
    // Ids sort by time like real ones (sbx_ + base-36 millis + random), spread over 30 days.
    await rt.db.execute(sql`
      insert into sandboxes (id, team_id, profile_id, state, extension_id, resources, template, ttl_seconds, hold_micros, estimate_micros, cost_micros, created_at, started_at, ended_at, updated_at)
      select 'sbx_' || lpad(to_hex(1796083200000::bigint + g::bigint * 25000), 12, '0') || md5(g::text),
             ${teamId}, 'profile.burst-sandbox',
             (array['destroyed','destroyed','destroyed','ready','failed'])[1 + g % 5],
             'ext.saas-stub', '{"vcpu":2,"memoryMiB":512,"gpu":0,"gpuType":null}'::jsonb, 'base', 300, 0, 7800, 7800,
             to_timestamp((1796083200000::bigint + g::bigint * 25000) / 1000.0), to_timestamp((1796083200000::bigint + g::bigint * 25000) / 1000.0),
             to_timestamp((1796083200000::bigint + g::bigint * 25000 + 300000) / 1000.0), now()
      from generate_series(1, ${nSandboxes}) g`);
    const tUsage = performance.now();
    await rt.db.execute(sql`
      insert into usage_records (id, sandbox_id, team_id, extension_id, profile_id, started_at, ended_at, duration_ms, resources, rate_card_version, currency, cost_micros, credential_source, end_reason, idempotency_key)
      select 'use_' || g, 'sbx_u' || g, ${teamId},
             (array['ext.saas-stub','ext.e2b','ext.modal'])[1 + g % 3],
             (array['profile.burst-sandbox','profile.e2b-burst','profile.modal-gpu'])[1 + g % 3],
             to_timestamp(1796083200 + g * 2.5), to_timestamp(1796083200 + g * 2.5 + 300), 300000,
             '{"vcpu":2,"memoryMiB":512,"gpu":0,"gpuType":null}'::jsonb, 'bench-1', 'USD', 7800 + g % 13, 'platform', 'TTL reached', 'usage:bench:' || g
      from generate_series(1, ${nUsage}) g`);
    const usageSeconds = ((performance.now() - tUsage) / 1000).toFixed(1);
    await rt.db.execute(sql`analyze`);
    console.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const check = (await rt.db.execute(sql`
      select (select count(*) from usage_daily)::text as keys,
             (select row(count(*), sum(cost_micros), sum(duration_ms))::text from usage_records) as raw,
             (select row(sum(records), sum(cost_micros), sum(duration_ms))::text from usage_daily) as rollup`)) as unknown as {
      rows: { keys: string; raw: string; rollup: string }[];
    };
    const c = check.rows[0]!;
    if (c.raw !== c.rollup) throw new Error(`usage_daily ${c.rollup} does not match usage_records ${c.raw}`);
    console.log(`  usage_daily: ${c.keys} rows, totals ${c.rollup} = usage_records (the usage INSERT took ${usageSeconds} s, trigger included)`);

    const first = await listSandboxes(rt, teamId, { limit: 50 });
    let deep: string | undefined = first.nextCursor ?? undefined;
    for (let i = 0; i < 200 && deep; i++) deep = (await listSandboxes(rt, teamId, { limit: 200, cursor: deep })).nextCursor ?? undefined;
    console.log(`sandboxes page data (${runs} runs each):`);
    await time("list, first page of 50", () => listSandboxes(rt, teamId, { limit: 50 }));
    await time("list, page of 50 deep in the table", () => listSandboxes(rt, teamId, { limit: 50, cursor: deep }));
    await time("list, state = ready, first page of 50", () => listSandboxes(rt, teamId, { limit: 50, state: ["ready"] }));
    console.log(`usage charts data (${runs} runs each):`);
    await time("summary, 30 days (≈1M records)", () => usageSummary(rt, teamId, { from: "2026-12-01", to: "2026-12-30" }));
    await time("summary, 7 days", () => usageSummary(rt, teamId, { from: "2026-12-01", to: "2026-12-07" }));
    console.log(`usage records table data (${runs} runs each; page of 50 and the totals of the filter):`);
    const t = (iso: string) => new Date(iso);
    await time("records, 30 days from midnight to midnight", () => listUsage(rt, teamId, { from: t("2026-12-01T00:00:00Z"), to: t("2026-12-31T00:00:00Z"), limit: 50 }));
    await time("records, 30 days between two afternoons", () => listUsage(rt, teamId, { from: t("2026-12-01T13:07:00Z"), to: t("2026-12-30T15:45:00Z"), limit: 50 }));
    console.log(`load average (1, 5, 15 min): ${loadavg()}`);
  } finally {
    await rt.close();
    await db.drop();
    await deleteKeys(keyPrefix);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
