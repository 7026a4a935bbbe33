import { createHash, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import {
  ProviderError,
  type AdapterContext,
  type ProviderErrorKind,
  type ProviderSandbox,
  type SandboxAdapter,
} from "../contract";
import { estimateAllocated, meterAllocated } from "../metering";

export type StubSettings = {
  /** Delay of every provider call, in ms. */
  latencyMs: number;
  /** Extra delay before a new sandbox becomes ready, in ms. */
  readyDelayMs: number;
  /** Share of creates that fail with a simulated 503, 0..1. */
  failRate: number;
  /** Page size of the simulated list call. */
  pageSize: number;
  /** A credential field every call must receive, as a real provider's API key (none by default). */
  requiredCredential: string | null;
  /**
   * A Redis of its own for the simulated provider's state (default: the runtime's). Chaos runs
   * set it so flushing or restarting the queue's Redis does not make the "provider" forget.
   */
  redisUrl?: string | null;
};

/** A fault a test queues for the next call of one operation (see stubFaults). */
export type StubFault = {
  kind: ProviderErrorKind;
  message?: string;
  status?: number;
  retryAfterMs?: number;
  /** For provision: create the sandbox, then lose the reply (the client sees a timeout). */
  afterEffect?: boolean;
  /** Let this call through: queue `{ pass: true }` before a fault to make a later page fail. */
  pass?: boolean;
};
type Operation = "provision" | "teardown" | "list" | "extend" | "waitReady";

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

/** Keys of the simulated provider's own state. It is the "provider", not Sandboxer's ledger. */
function keys(prefix: string, extensionId: string) {
  // Each extension served by the stub adapter is its own simulated provider.
  const base = extensionId === "ext.saas-stub" ? `${prefix}:stub` : `${prefix}:stub:${extensionId}`;
  return {
    sandbox: (pid: string) => `${base}:sbx:${pid}`,
    all: `${base}:all`,
    tag: (sandboxId: string) => `${base}:tag:${sandboxId}`,
    faults: (op: Operation) => `${base}:faults:${op}`,
    creates: `${base}:creates`,
  };
}

/** Test and chaos support: queue faults on the simulated provider, read its counters. */
export function stubControl(redis: Redis, prefix: string, extensionId = "ext.saas-stub") {
  const k = keys(prefix, extensionId);
  return {
    inject: (op: Operation, ...faults: StubFault[]) =>
      redis.rpush(k.faults(op), ...faults.map((f) => JSON.stringify(f))),
    clearFaults: () =>
      redis.del(...(["provision", "teardown", "list", "extend", "waitReady"] as const).map(k.faults)),
    createCount: async () => Number((await redis.get(k.creates)) ?? 0),
    /** Ends a sandbox on the provider side, as a provider that kills it early would. */
    endEarly: async (pid: string, at: Date) => {
      await redis.hset(k.sandbox(pid), { state: "ended", endsAt: String(at.getTime()) });
    },
    get: async (pid: string) => redis.hgetall(k.sandbox(pid)),
  };
}

/**
 * ext.saas-stub: a simulated provider whose state lives in Redis, so every worker process sees
 * the same sandboxes and a worker restart loses nothing. Like a real provider it does not
 * deduplicate creates; adoption after a lost reply is the caller's job.
 */
export function createStubAdapter(opts: {
  extensionId: string;
  redis: Redis;
  keyPrefix: string;
  settings: StubSettings;
}): SandboxAdapter {
  const { settings } = opts;
  const ownRedis = settings.redisUrl ? new Redis(settings.redisUrl, { maxRetriesPerRequest: null }) : null;
  const redis = ownRedis ?? opts.redis;
  const k = keys(opts.keyPrefix, opts.extensionId);

  function checkCredentials(ctx: AdapterContext) {
    const field = settings.requiredCredential;
    if (field && !ctx.credentials[field]) throw new ProviderError("auth", `stub: missing credential ${field}`, { status: 401 });
  }

  const parseFault = (raw: string | null): StubFault | null => {
    const fault = raw ? (JSON.parse(raw) as StubFault) : null;
    return fault?.pass ? null : fault;
  };
  async function takeFault(op: Operation): Promise<StubFault | null> {
    return parseFault(await redis.lpop(k.faults(op)));
  }
  /** The next fault of `op` and the sandbox's hash, in one round trip (the hash is unused on a fault). */
  async function takeFaultAndRead(op: Operation, pid: string): Promise<[StubFault | null, Record<string, string>]> {
    const res = (await redis.pipeline().lpop(k.faults(op)).hgetall(k.sandbox(pid)).exec()) as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (res[0][0]) throw res[0][0];
    if (res[1][0]) throw res[1][0];
    return [parseFault(res[0][1]), res[1][1]];
  }
  const toError = (f: StubFault) =>
    new ProviderError(f.kind, f.message ?? `stub: simulated ${f.kind}`, {
      status: f.status,
      retryAfterMs: f.retryAfterMs,
      providerCode: `stub_${f.kind}`,
    });

  function view(pid: string, h: Record<string, string>, now: Date): ProviderSandbox | null {
    if (!h.startedAt) return null;
    const endsAt = h.endsAt ? new Date(Number(h.endsAt)) : null;
    const ended = h.state === "ended" || (endsAt !== null && endsAt <= now);
    const ready = Number(h.readyAt ?? 0) <= now.getTime();
    return {
      providerSandboxId: pid,
      sandboxId: h.sandboxId || null,
      teamId: h.teamId || null,
      state: ended ? "ended" : ready ? "running" : "starting",
      startedAt: new Date(Number(h.startedAt)),
      endsAt,
    };
  }

  return {
    extensionId: opts.extensionId,
    canExtend: true,
    close: async () => {
      ownRedis?.disconnect();
    },

    async provision(ctx, req) {
      checkCredentials(ctx);
      await sleep(settings.latencyMs);
      const fault = await takeFault("provision");
      if (fault && !fault.afterEffect) throw toError(fault);
      if (!fault && settings.failRate > 0 && Math.random() < settings.failRate) {
        throw new ProviderError("unavailable", "stub: simulated capacity shortage", { status: 503, providerCode: "stub_capacity" });
      }
      const pid = `stub-${randomBytes(8).toString("hex")}`;
      // Like a real provider, remember which key created it (a fingerprint, never the key).
      const keyField = settings.requiredCredential;
      const keyFingerprint = keyField ? createHash("sha256").update(ctx.credentials[keyField]!).digest("hex").slice(0, 16) : "";
      const now = ctx.clock.now();
      const endsAt = new Date(now.getTime() + req.timeoutSeconds * 1000);
      await redis
        .multi()
        .hset(k.sandbox(pid), {
          sandboxId: req.sandboxId,
          teamId: req.teamId,
          template: req.spec.template,
          keyFingerprint,
          state: "running",
          startedAt: String(now.getTime()),
          readyAt: String(now.getTime() + settings.readyDelayMs),
          endsAt: String(endsAt.getTime()),
        })
        .zadd(k.all, now.getTime(), pid)
        .sadd(k.tag(req.sandboxId), pid)
        .incr(k.creates)
        .exec();
      if (fault?.afterEffect) throw toError(fault);
      ctx.logger.debug({ providerSandboxId: pid }, "stub sandbox created");
      return { providerSandboxId: pid, startedAt: now, endsAt };
    },

    async waitReady(ctx, pid, timeoutMs) {
      const [fault, first] = await takeFaultAndRead("waitReady", pid);
      if (fault) throw toError(fault);
      const deadline = ctx.clock.now().getTime() + timeoutMs;
      for (let pass = 0; ; pass++) {
        const h = pass === 0 ? first : await redis.hgetall(k.sandbox(pid));
        const sbx = view(pid, h, ctx.clock.now());
        if (!sbx) throw new ProviderError("not_found", `stub: sandbox ${pid} not found`, { status: 404 });
        if (sbx.state === "running") return { readyAt: ctx.clock.now() };
        if (sbx.state === "ended") throw new ProviderError("not_found", `stub: sandbox ${pid} ended before ready`);
        const wait = Math.min(Number(h.readyAt) - ctx.clock.now().getTime(), deadline - ctx.clock.now().getTime());
        if (wait <= 0 && ctx.clock.now().getTime() >= deadline) {
          throw new ProviderError("timeout", `stub: sandbox ${pid} not ready after ${timeoutMs} ms`);
        }
        await sleep(Math.max(1, Math.min(wait, 250)));
      }
    },

    async teardown(ctx, pid) {
      checkCredentials(ctx);
      await sleep(settings.latencyMs);
      const [fault, h] = await takeFaultAndRead("teardown", pid);
      if (fault) throw toError(fault);
      const sbx = view(pid, h, ctx.clock.now());
      if (!sbx || sbx.state === "ended") {
        await redis.zrem(k.all, pid);
        return { outcome: "already_gone", endedAt: sbx?.endsAt ?? null };
      }
      const now = ctx.clock.now();
      await redis.multi().hset(k.sandbox(pid), { state: "ended", endsAt: String(now.getTime()) }).zrem(k.all, pid).exec();
      return { outcome: "terminated", endedAt: now };
    },

    estimateCost: estimateAllocated,
    meterActual: meterAllocated,

    async list(ctx, filter) {
      checkCredentials(ctx);
      await sleep(settings.latencyMs);
      const now = ctx.clock.now();
      const ids = filter?.sandboxId
        ? await redis.smembers(k.tag(filter.sandboxId))
        : await redis.zrange(k.all, 0, -1);
      const out: ProviderSandbox[] = [];
      for (let page = 0; page * settings.pageSize < ids.length || page === 0; page++) {
        const fault = await takeFault("list");
        if (fault) throw toError(fault);
        const slice = ids.slice(page * settings.pageSize, (page + 1) * settings.pageSize);
        const rows = await Promise.all(slice.map((pid) => redis.hgetall(k.sandbox(pid))));
        slice.forEach((pid, i) => {
          const sbx = view(pid, rows[i] ?? {}, now);
          if (sbx && (filter?.sandboxId || sbx.state !== "ended")) out.push(sbx);
        });
        if (slice.length < settings.pageSize) break;
      }
      return out;
    },

    async extend(ctx, pid, endsAt) {
      await sleep(settings.latencyMs);
      const fault = await takeFault("extend");
      if (fault) throw toError(fault);
      const sbx = view(pid, await redis.hgetall(k.sandbox(pid)), ctx.clock.now());
      if (!sbx || sbx.state === "ended") throw new ProviderError("not_found", `stub: sandbox ${pid} is not running`, { status: 404 });
      await redis.hset(k.sandbox(pid), { endsAt: String(endsAt.getTime()) });
      return { endsAt };
    },
  };
}

export function stubSettingsFrom(settings: Record<string, string | number | boolean>, env: Record<string, string | undefined>): StubSettings {
  const num = (envName: string, key: string, fallback: number) => {
    const raw = env[envName] ?? settings[key];
    const n = raw === undefined || raw === "" ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${envName} / settings.${key}: must be a non-negative number, got ${String(raw)}`);
    return n;
  };
  const failRate = num("SANDBOXER_STUB_FAIL_RATE", "fail_rate", 0);
  if (failRate > 1) throw new Error(`SANDBOXER_STUB_FAIL_RATE / settings.fail_rate: must be between 0 and 1, got ${failRate}`);
  return {
    latencyMs: num("SANDBOXER_STUB_LATENCY_MS", "latency_ms", 0),
    readyDelayMs: num("SANDBOXER_STUB_READY_DELAY_MS", "ready_delay_ms", 0),
    failRate,
    pageSize: num("SANDBOXER_STUB_PAGE_SIZE", "page_size", 100) || 100,
    requiredCredential: typeof settings.required_credential === "string" ? settings.required_credential : null,
    redisUrl: env.SANDBOXER_STUB_REDIS_URL || (typeof settings.redis_url === "string" && settings.redis_url) || null,
  };
}
