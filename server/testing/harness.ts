import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import pg from "pg";
import { Redis } from "ioredis";
import type { Clock } from "../../adapters/contract";
import { migrateDb, openDb, type DbHandle } from "../../db/client";
import { organization } from "../../db/schema";
import { loadEnv } from "../env";
import { createLogger } from "../logger";
import { createRuntime, type Runtime } from "../runtime";
import type { SecretResolver } from "../secrets";
import { topUp } from "../services/credits";

/** A clock tests move by hand. */
export class TestClock implements Clock {
  constructor(private current = new Date("2026-12-01T00:00:00.000Z")) {}
  now() {
    return new Date(this.current);
  }
  set(d: Date) {
    this.current = new Date(d);
  }
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const testDbKind = () => (process.env.TEST_DB === "postgres" ? "postgres" : "pglite");
export const redisUrl = () => process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * A fresh database for one test file: an in-memory PGlite, or (TEST_DB=postgres) a throwaway
 * database created on TEST_DATABASE_URL's server and dropped afterwards. `migrationsFolder`
 * migrates from another folder (e.g. a copy holding only the older migrations).
 */
export async function openTestDb(
  opts: { migrationsFolder?: string } = {},
): Promise<DbHandle & { drop: () => Promise<void> }> {
  if (testDbKind() === "pglite") {
    const handle = await openDb({ kind: "pglite", dataDir: null });
    await migrateDb(handle, opts.migrationsFolder);
    return { ...handle, drop: handle.close };
  }
  const baseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!baseUrl) throw new Error("TEST_DB=postgres needs TEST_DATABASE_URL");
  const name = `sbx_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await openDb({ kind: "postgres", url: url.toString(), poolSize: 20 });
  await migrateDb(handle, opts.migrationsFolder);
  return {
    ...handle,
    drop: async () => {
      await handle.close();
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Captures every log line so tests can search them (e.g. for leaked secrets). */
export function logCapture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: "debug", destination: stream }) };
}

export type TestRuntime = Runtime & { clock: Clock; logs: string[]; cleanup: () => Promise<void> };

/** A runtime on a shared test DB with its own Redis key prefix, so test files never collide. */
export async function createTestRuntime(
  db: DbHandle,
  opts: { clock?: Clock; processEnv?: Record<string, string | undefined>; resolveSecrets?: SecretResolver; readyTimeoutMs?: number; configDir?: string } = {},
): Promise<TestRuntime> {
  const keyPrefix = `t-${randomBytes(5).toString("hex")}`;
  // Real providers must never be reached from tests, whatever the developer's shell holds: a test
  // that wants E2B passes a key and SANDBOXER_E2B_API_URL of the local fake in `processEnv` (Modal:
  // MODAL_TOKEN_ID / MODAL_TOKEN_SECRET and SANDBOXER_MODAL_SERVER_URL of the local gRPC fake).
  const noRealProviders = { E2B_API_KEY: "", SANDBOXER_E2B_API_URL: "", MODAL_TOKEN_ID: "", MODAL_TOKEN_SECRET: "", SANDBOXER_MODAL_SERVER_URL: "" };
  const processEnv = { ...process.env, SANDBOXER_STUB_LATENCY_MS: "0", ...noRealProviders, ...opts.processEnv };
  const env = loadEnv({ ...processEnv, REDIS_URL: redisUrl(), SANDBOXER_CONFIG_DIR: opts.configDir ?? "profiles" });
  const { lines, logger } = logCapture();
  const rt = await createRuntime({
    env,
    db,
    logger,
    keyPrefix,
    clock: opts.clock,
    processEnv,
    resolveSecrets: opts.resolveSecrets,
    readyTimeoutMs: opts.readyTimeoutMs ?? 5_000,
  });
  return {
    ...rt,
    clock: rt.clock,
    logs: lines,
    cleanup: async () => {
      await rt.close();
      await deleteKeys(keyPrefix);
    },
  };
}

export async function deleteKeys(prefix: string) {
  const redis = new Redis(redisUrl());
  for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  }
  redis.disconnect();
}

/** A team (Better Auth organization row) with `credits` micro-dollars. */
export async function seedTeam(rt: Pick<Runtime, "db">, creditsMicros: bigint, name = "Team"): Promise<string> {
  const id = `team_${randomBytes(6).toString("hex")}`;
  await rt.db.insert(organization).values({ id, name, slug: id, createdAt: new Date() });
  if (creditsMicros > 0n) await topUp(rt.db, { teamId: id, amountMicros: creditsMicros, idempotencyKey: "seed" });
  return id;
}
