import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema> & { $client?: unknown };
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

export type DbTarget =
  | { kind: "postgres"; url: string; poolSize?: number }
  | { kind: "pglite"; dataDir: string | null };

export type DbHandle = { db: Db; kind: DbTarget["kind"]; close: () => Promise<void> };

export const migrationsFolder = () =>
  process.env.SANDBOXER_MIGRATIONS_DIR ?? path.join(process.cwd(), "db", "migrations");

/**
 * Opens the ledger database: Postgres when a URL is given, else embedded PGlite
 * (a directory, or in-memory when dataDir is null). PGlite is single-connection:
 * only one process may open a data directory at a time.
 */
export async function openDb(target: DbTarget): Promise<DbHandle> {
  if (target.kind === "postgres") {
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize ?? 10 });
    // An idle pooled connection the server closes (restart, failover, admin termination) emits
    // "error" on the pool; unhandled, that would crash the process. The pool drops the dead
    // client and the next query opens a new one, so there is nothing else to do here.
    pool.on("error", () => undefined);
    const db = drizzlePg({ client: pool, schema }) as unknown as Db;
    return { db, kind: "postgres", close: () => pool.end() };
  }
  if (target.dataDir) fs.mkdirSync(target.dataDir, { recursive: true });
  const client = target.dataDir ? new PGlite(target.dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return { db, kind: "pglite", close: () => client.close() };
}

/** Applies every migration in db/migrations (or `folder`); re-running is a no-op. */
export async function migrateDb(handle: DbHandle, folder = migrationsFolder()): Promise<void> {
  if (handle.kind === "postgres") {
    await migratePg(handle.db as never, { migrationsFolder: folder });
  } else {
    await migratePglite(handle.db as never, { migrationsFolder: folder });
  }
}

export function dbTargetFromEnv(env: { DATABASE_URL?: string; SANDBOXER_DATA_DIR: string }): DbTarget {
  if (env.DATABASE_URL) return { kind: "postgres", url: env.DATABASE_URL };
  return { kind: "pglite", dataDir: path.resolve(env.SANDBOXER_DATA_DIR, "pglite") };
}
