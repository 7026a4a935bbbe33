import path from "node:path";
import type { Redis } from "ioredis";
import { buildAdapters } from "../adapters/registry";
import { systemClock, type Clock, type SandboxAdapter } from "../adapters/contract";
import { dbTargetFromEnv, migrateDb, openDb, type Db, type DbHandle, type DbTarget } from "../db/client";
import { createQueueConnection, LifecycleQueue } from "../jobs/queue";
import { loadCatalog, type Catalog } from "./catalog/load";
import { loadEnv, type Env } from "./env";
import { createLogger, type Logger } from "./logger";
import { assertNoEviction } from "./redis-check";
import { createSecretResolver, type SecretResolver } from "./secrets";

/**
 * Everything a service, job handler or router needs, built once per process and passed down
 * as arguments. Nothing that matters lives here beyond connections and read-only config.
 */
export type Runtime = {
  env: Env;
  db: Db;
  dbKind: DbHandle["kind"];
  redis: Redis;
  queue: LifecycleQueue;
  catalog: Catalog;
  adapters: Map<string, SandboxAdapter>;
  logger: Logger;
  clock: Clock;
  resolveSecrets: SecretResolver;
  keyPrefix: string;
  /** How long a provision waits for the provider to report ready, in ms. */
  readyTimeoutMs: number;
  close: () => Promise<void>;
};

export type RuntimeOptions = {
  env?: Env;
  dbTarget?: DbTarget;
  db?: DbHandle;
  migrate?: boolean;
  logger?: Logger;
  clock?: Clock;
  keyPrefix?: string;
  resolveSecrets?: SecretResolver;
  processEnv?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
};

export async function createRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const processEnv = opts.processEnv ?? process.env;
  const env = opts.env ?? loadEnv(processEnv);
  const logger = opts.logger ?? createLogger({ level: env.SANDBOXER_LOG_LEVEL });
  const catalog = loadCatalog(path.resolve(env.SANDBOXER_CONFIG_DIR));
  const keyPrefix = opts.keyPrefix ?? env.SANDBOXER_QUEUE_PREFIX;

  const handle = opts.db ?? (await openDb(opts.dbTarget ?? dbTargetFromEnv(env)));
  if (opts.migrate) await migrateDb(handle);

  const redis = createQueueConnection(env.REDIS_URL);
  redis.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));
  try {
    await assertNoEviction(redis);
  } catch (err) {
    redis.disconnect();
    if (!opts.db) await handle.close();
    throw err;
  }
  const queue = new LifecycleQueue(redis, keyPrefix);
  const adapters = buildAdapters(catalog.extensions.values(), { redis, keyPrefix, env: processEnv, logger });

  return {
    env,
    db: handle.db,
    dbKind: handle.kind,
    redis,
    queue,
    catalog,
    adapters,
    logger,
    clock: opts.clock ?? systemClock,
    resolveSecrets: opts.resolveSecrets ?? createSecretResolver(processEnv),
    keyPrefix,
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    close: async () => {
      for (const adapter of adapters.values()) await adapter.close?.();
      await queue.close();
      redis.disconnect();
      if (!opts.db) await handle.close();
    },
  };
}

const GLOBAL_KEY = Symbol.for("sandboxer.runtime");
type GlobalWithRuntime = typeof globalThis & { [GLOBAL_KEY]?: Promise<Runtime> };

/**
 * The process-wide runtime. Kept on globalThis because Next.js may load this module more than
 * once (route handlers and instrumentation are bundled separately), and embedded PGlite must be
 * opened exactly once per process.
 */
export function getRuntime(): Promise<Runtime> {
  const g = globalThis as GlobalWithRuntime;
  g[GLOBAL_KEY] ??= createRuntime().catch((err) => {
    delete g[GLOBAL_KEY];
    throw err;
  });
  return g[GLOBAL_KEY];
}
