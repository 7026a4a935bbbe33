import { Sandbox, type SandboxApiOpts, type SandboxInfo } from "e2b";
import {
  ProviderError,
  type AdapterContext,
  type ProviderErrorKind,
  type ProviderSandbox,
  type SandboxAdapter,
} from "../contract";
import { estimateAllocated, meterAllocated } from "../metering";
import { observeCall, type Observed } from "./http-observer";

/**
 * ext.e2b on the official SDK (`e2b`). Every provider call goes through the SDK with:
 *   - the API key from the call's credentials (`api_key`), never from the environment;
 *   - an explicit `apiUrl` (settings.api_url / SANDBOXER_E2B_API_URL, else E2B's), so the
 *     SDK's own E2B_API_URL / E2B_DOMAIN variables play no part;
 *   - `debug: false`, so E2B_DEBUG can never make the SDK invent sandboxes;
 *   - `retries: 0`: one adapter call is one HTTP request, bounded by our own timeout. Retrying
 *     (and waiting out `Retry-After`) is the lifecycle's job, which counts attempts.
 */

export const DEFAULT_API_URL = "https://api.e2b.app";
/** Metadata every Sandboxer sandbox carries on E2B. `list` filters on TAG_KEY=TAG_VALUE. */
export const TAG_KEY = "sandboxer";
export const TAG_VALUE = "1";
export const SANDBOX_ID_KEY = "sandboxer_sandbox_id";
export const TEAM_ID_KEY = "sandboxer_team_id";
export const SPEC_KEY = "sandboxer_spec";

export type E2bSettings = {
  /** Base URL of the E2B API. */
  apiUrl: string;
  /** Client-side timeout of every call but create, in ms. */
  requestTimeoutMs: number;
  /** Client-side timeout of a create, in ms. Past it the outcome is unknown: kind "timeout". */
  createTimeoutMs: number;
  /** Sandboxes per list page (E2B allows 1..100). */
  pageSize: number;
  /** How often waitReady asks whether the sandbox is running, in ms. */
  readyPollMs: number;
};

type Op = "create" | "get" | "kill" | "set timeout" | "list";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
/** Connection failures that prove the request never reached the API. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);
/** Statuses after which a create may or may not have happened (a gateway gave up, not E2B). */
const CREATE_UNKNOWN_STATUS = new Set([502, 504]);

function networkCode(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

function statusOf(err: unknown, seen: Observed): number | undefined {
  if (seen.status && seen.status >= 400) return seen.status;
  const fromSdk = (err as { statusCode?: unknown }).statusCode;
  if (typeof fromSdk === "number") return fromSdk;
  const name = (err as { name?: string }).name;
  if (name === "AuthenticationError") return 401;
  if (name === "SandboxNotFoundError") return 404;
  return undefined;
}

function clip(text: string, secret: string | null): string {
  const scrubbed = secret && secret.length >= 4 ? text.split(secret).join("[redacted]") : text;
  return scrubbed.replace(/\s+/g, " ").trim().slice(0, 200);
}

/**
 * The SDK's error (plus what the response head said) as the common ProviderError. Messages
 * carry the operation, the status and E2B's own message, never request headers.
 */
export function toProviderError(err: unknown, op: Op, seen: Observed, timeoutMs: number, apiKey: string | null): ProviderError {
  if (err instanceof ProviderError) return err;
  const name = (err as { name?: string }).name ?? "";
  const sdkMessage = err instanceof Error ? err.message : String(err);
  const status = statusOf(err, seen);

  if (status === undefined) {
    if (name === "TimeoutError" || name === "AbortError") {
      return new ProviderError("timeout", `E2B ${op}: no answer within ${timeoutMs} ms${op === "create" ? "; the sandbox may exist" : ""}`, {
        providerCode: "client_timeout",
      });
    }
    const code = networkCode(err);
    if (err instanceof TypeError || code) {
      const notSent = code !== null && NOT_SENT.has(code);
      // A create cut off after it was sent may have happened: report it as unknown (timeout).
      const kind: ProviderErrorKind = op === "create" && !notSent ? "timeout" : "unavailable";
      return new ProviderError(kind, `E2B ${op}: cannot reach the API (${code ?? clip(sdkMessage, apiKey)})`, { providerCode: code ?? "network_error" });
    }
    if (name === "TemplateError" || name === "InvalidArgumentError") {
      return new ProviderError("invalid", `E2B ${op}: ${clip(sdkMessage, apiKey)}`, { providerCode: name });
    }
    return new ProviderError("unknown", `E2B ${op}: ${clip(sdkMessage, apiKey)}`, { providerCode: name || "unknown" });
  }

  const providerCode = seen.errorCode ?? `http_${status}`;
  const details = { status, providerCode, retryAfterMs: seen.retryAfterMs };
  const text = clip(tidySdkMessage(sdkMessage, status), apiKey);
  let kind: ProviderErrorKind;
  if (status === 401 || status === 403) kind = "auth";
  else if (status === 404) kind = "not_found";
  else if (status === 409) kind = "conflict";
  else if (status === 429) kind = /concurren/i.test(sdkMessage) ? "capacity" : "rate_limited";
  else if (op === "create" && CREATE_UNKNOWN_STATUS.has(status)) kind = "timeout";
  else if (status >= 500) {
    kind = status === 503 || /capacity|no_compatible_node/.test(seen.errorCode ?? "") ? "capacity" : "unavailable";
  } else kind = "invalid";
  const after = seen.retryAfterMs !== undefined ? ` (retry after ${Math.ceil(seen.retryAfterMs / 1000)} s)` : "";
  const what = kind === "auth" ? "the API key was rejected" : text;
  return new ProviderError(kind, `E2B ${op}: HTTP ${status}${after}: ${what}`, details);
}

/**
 * The SDK's message without what our own prefix already says: it starts some with the status
 * ("409: sandbox is busy") and joins others to the body's message, which can repeat it
 * ("Rate limit exceeded, please try again later - Rate limit exceeded").
 */
export function tidySdkMessage(message: string, status: number): string {
  let text = message.replace(new RegExp(`^${status}:\\s*`), "");
  const dash = text.lastIndexOf(" - ");
  if (dash > 0) {
    const [head, tail] = [text.slice(0, dash).trim(), text.slice(dash + 3).trim()];
    if (tail && head.toLowerCase().startsWith(tail.toLowerCase())) text = head;
  }
  return text;
}

function apiKeyOf(ctx: AdapterContext): string {
  const key = ctx.credentials.api_key;
  if (!key || key.trim() === "") {
    throw new ProviderError("auth", "E2B: no API key (credential api_key did not resolve)", { providerCode: "missing_api_key" });
  }
  return key.trim();
}

type CallOpts = SandboxApiOpts & { apiUrl: string };

export function createE2bAdapter(opts: { extensionId: string } & Partial<E2bSettings>): SandboxAdapter {
  const settings: E2bSettings = {
    apiUrl: opts.apiUrl ?? DEFAULT_API_URL,
    requestTimeoutMs: opts.requestTimeoutMs ?? 15_000,
    createTimeoutMs: opts.createTimeoutMs ?? 30_000,
    pageSize: opts.pageSize ?? 100,
    readyPollMs: opts.readyPollMs ?? 500,
  };

  /** One SDK call: one HTTP request, its answer observed, its failure a ProviderError. */
  async function call<T>(ctx: AdapterContext, op: Op, fn: (o: CallOpts) => Promise<T>, timeoutMs = settings.requestTimeoutMs): Promise<T> {
    const apiKey = apiKeyOf(ctx);
    const seen = observeCall();
    const o: CallOpts = {
      apiKey,
      apiUrl: settings.apiUrl,
      debug: false,
      retries: 0,
      requestTimeoutMs: timeoutMs,
      apiHeaders: seen.headers,
      signal: ctx.signal,
    };
    try {
      return await fn(o);
    } catch (err) {
      throw toProviderError(err, op, seen.result(), timeoutMs, apiKey);
    } finally {
      seen.end();
    }
  }

  /** Bounded retries for the synchronous extend path, which has no job to retry it. */
  async function retrying<T>(fn: () => Promise<T>, budgetMs = 5_000): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ProviderError) || !err.retryable || attempt >= 2) throw err;
        const wait = Math.max(250 * 2 ** attempt, err.details.retryAfterMs ?? 0);
        if (Date.now() - started + wait > budgetMs) throw err;
        await sleep(wait);
      }
    }
  }

  const view = (s: SandboxInfo): ProviderSandbox => ({
    providerSandboxId: s.sandboxId,
    sandboxId: s.metadata[SANDBOX_ID_KEY] ?? null,
    teamId: s.metadata[TEAM_ID_KEY] ?? null,
    // E2B lists only live sandboxes; a paused one still exists and can be resumed.
    state: "running",
    startedAt: s.startedAt,
    endsAt: s.endAt,
  });

  return {
    extensionId: opts.extensionId,
    canExtend: true,

    async provision(ctx, req) {
      if (!Number.isInteger(req.timeoutSeconds) || req.timeoutSeconds <= 0) {
        throw new ProviderError("invalid", `E2B create: timeout must be a positive whole number of seconds, got ${req.timeoutSeconds}`);
      }
      // E2B sizes a sandbox by its template; the spec is recorded, and metering uses it.
      const metadata = {
        [TAG_KEY]: TAG_VALUE,
        [SANDBOX_ID_KEY]: req.sandboxId,
        [TEAM_ID_KEY]: req.teamId,
        [SPEC_KEY]: `vcpu_milli=${req.spec.vcpuMilli},memory_mib=${req.spec.memoryMiB}`,
      };
      const startedAt = ctx.clock.now();
      const sbx = await call(
        ctx,
        "create",
        (o) => Sandbox.create(req.spec.template, { ...o, timeoutMs: req.timeoutSeconds * 1000, metadata }),
        settings.createTimeoutMs,
      );
      ctx.logger.debug({ providerSandboxId: sbx.sandboxId, template: req.spec.template }, "e2b sandbox created");
      return { providerSandboxId: sbx.sandboxId, startedAt, endsAt: new Date(startedAt.getTime() + req.timeoutSeconds * 1000) };
    },

    async waitReady(ctx, pid, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last: ProviderError | null = null;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new ProviderError("timeout", `E2B sandbox ${pid} not running after ${timeoutMs} ms${last ? ` (last: ${last.message})` : ""}`);
        }
        try {
          const info = await call(ctx, "get", (o) => Sandbox.getInfo(pid, o), Math.min(settings.requestTimeoutMs, left));
          if (info.state === "running") {
            warnIfSizedDifferently(ctx, info);
            return { readyAt: ctx.clock.now() };
          }
          last = null;
        } catch (err) {
          // Gone, or a key E2B refuses: no point waiting. Throttling and outages: ask again.
          if (!(err instanceof ProviderError) || !err.retryable) throw err;
          last = err;
        }
        await sleep(Math.min(Math.max(settings.readyPollMs, last?.details.retryAfterMs ?? 0), deadline - Date.now()));
      }
    },

    async teardown(ctx, pid) {
      // The SDK answers false for a 404: the sandbox ended already (its timeout, or killed).
      const killed = await call(ctx, "kill", (o) => Sandbox.kill(pid, o));
      return killed ? { outcome: "terminated", endedAt: ctx.clock.now() } : { outcome: "already_gone", endedAt: null };
    },

    estimateCost: estimateAllocated,
    meterActual: meterAllocated,

    async list(ctx, filter) {
      const metadata: Record<string, string> = { [TAG_KEY]: TAG_VALUE };
      if (filter?.sandboxId) metadata[SANDBOX_ID_KEY] = filter.sandboxId;
      const apiKey = apiKeyOf(ctx);
      const paginator = Sandbox.list({
        apiKey,
        apiUrl: settings.apiUrl,
        debug: false,
        retries: 0,
        requestTimeoutMs: settings.requestTimeoutMs,
        query: { metadata, state: ["running", "paused"] },
        limit: settings.pageSize,
      } as Parameters<typeof Sandbox.list>[0]);
      const out: ProviderSandbox[] = [];
      const tokens = new Set<string>();
      while (paginator.hasNext) {
        // Any failed page fails the whole listing: a partial list proves nothing.
        const page = await call(ctx, "list", (o) => paginator.nextItems(o));
        out.push(...page.map(view));
        const next = paginator.nextToken;
        if (next !== undefined) {
          if (tokens.has(next)) throw new ProviderError("unknown", "E2B list: the next-page token repeated; refusing to loop", { providerCode: "pagination_loop" });
          tokens.add(next);
        }
      }
      return out;
    },

    async extend(ctx, pid, endsAt) {
      const ms = endsAt.getTime() - ctx.clock.now().getTime();
      if (ms <= 0) throw new ProviderError("invalid", `E2B set timeout: the new end ${endsAt.toISOString()} is not in the future`);
      // E2B counts the timeout from now and clamps it to the plan's maximum life without saying
      // so: read the effective end back rather than assume the one asked for.
      await retrying(() => call(ctx, "set timeout", (o) => Sandbox.setTimeout(pid, ms, o)));
      const info = await retrying(() => call(ctx, "get", (o) => Sandbox.getInfo(pid, o)));
      return { endsAt: info.endAt };
    },
  };
}

/** E2B allocates by template; say so when it differs from what the profile meters. */
function warnIfSizedDifferently(ctx: AdapterContext, info: SandboxInfo) {
  const m = /^vcpu_milli=(\d+),memory_mib=(\d+)$/.exec(info.metadata[SPEC_KEY] ?? "");
  if (!m) return;
  const [vcpuMilli, memoryMiB] = [Number(m[1]), Number(m[2])];
  if (info.cpuCount * 1000 !== vcpuMilli || info.memoryMB !== memoryMiB) {
    ctx.logger.warn(
      { providerSandboxId: info.sandboxId, template: info.templateId, allocated: { cpuCount: info.cpuCount, memoryMB: info.memoryMB }, metered: { vcpuMilli, memoryMiB } },
      "E2B template allocates different resources than the profile meters",
    );
  }
}

/** Settings from the manifest's `settings`, each overridable by an environment variable. */
export function e2bSettingsFrom(settings: Record<string, string | number | boolean>, env: Record<string, string | undefined>): E2bSettings {
  const raw = (envName: string, key: string) => {
    const v = env[envName];
    return v !== undefined && v !== "" ? v : settings[key];
  };
  const num = (envName: string, key: string, fallback: number, min: number, max: number) => {
    const v = raw(envName, key);
    const n = v === undefined || v === "" ? fallback : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`${envName} / settings.${key}: must be a whole number from ${min} to ${max}, got ${String(v)}`);
    }
    return n;
  };
  const urlRaw = raw("SANDBOXER_E2B_API_URL", "api_url");
  let apiUrl = DEFAULT_API_URL;
  if (urlRaw !== undefined && urlRaw !== "") {
    const text = String(urlRaw).trim();
    let parsed: URL | null = null;
    try {
      parsed = new URL(text);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new Error(`SANDBOXER_E2B_API_URL / settings.api_url: must be an http:// or https:// URL, got ${text}`);
    }
    apiUrl = text.replace(/\/+$/, "");
  }
  return {
    apiUrl,
    requestTimeoutMs: num("SANDBOXER_E2B_REQUEST_TIMEOUT_MS", "request_timeout_ms", 15_000, 100, 300_000),
    createTimeoutMs: num("SANDBOXER_E2B_CREATE_TIMEOUT_MS", "create_timeout_ms", 30_000, 100, 600_000),
    pageSize: num("SANDBOXER_E2B_PAGE_SIZE", "page_size", 100, 1, 100),
    readyPollMs: num("SANDBOXER_E2B_READY_POLL_MS", "ready_poll_ms", 500, 10, 60_000),
  };
}
