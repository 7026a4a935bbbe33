import { createHash } from "node:crypto";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidError,
  ModalClient,
  NotFoundError,
  ResourceExhaustedError,
  TimeoutError as ModalTimeoutError,
  type App,
  type Image,
  type ModalClientParams,
  type Sandbox,
} from "modal";
import type { Logger } from "pino";
import { scrubSecrets } from "../../server/secrets";
import {
  ProviderError,
  type AdapterContext,
  type ProviderErrorKind,
  type ProviderSandbox,
  type SandboxAdapter,
  type SandboxSpec,
} from "../contract";
import { estimateAllocated, meterAllocated } from "../metering";

/**
 * ext.modal on the official SDK (npm `modal`, pinned to 0.11.1). See docs/cloud-adapters.md
 * (Modal) and docs/runbooks/modal.md.
 *
 * - Credentials come per call from `ctx.credentials.token_id` / `token_secret` (the manifest's
 *   secret refs, resolved by the job); nothing here reads them from process.env or logs them.
 * - One ModalClient per (server URL, token pair), cached in memory under a SHA-256 of the three,
 *   so the SDK's auth-token cache and HTTP/2 connection are reused across calls.
 * - The SDK's V1 sandbox backend is pinned: GPUs need it, and it gives one code path for create,
 *   list (SandboxList, paged by `before_timestamp`), tags, wait and terminate.
 * - Modal cannot extend a running sandbox's timeout: `canExtend` is false and there is no
 *   `extend`. The provider timeout we ask for is the TTL plus the lifecycle's grace, at most 24 h.
 */

export const MODAL_MAX_TIMEOUT_S = 86_400;
/** Modal's CPU request is in physical cores; 1 core = 2 vCPU. */
export const VCPU_PER_MODAL_CORE = 2;
export const DEFAULT_MODAL_SERVER_URL = "https://api.modal.com:443";

/** Tags on every sandbox we create. Names use only letters, digits and underscores. */
export const MODAL_TAGS = {
  managed: "sandboxer_managed",
  sandboxId: "sandboxer_sandbox_id",
  teamId: "sandboxer_team_id",
  /** Epoch ms when we asked for it: the start a listing reports (the SDK's list gives ids only). */
  requestedAt: "sandboxer_requested_at",
  timeoutS: "sandboxer_timeout_s",
} as const;

export type ModalSettings = {
  /** Modal's control-plane URL; http:// (plaintext gRPC) is allowed only for a loopback fake. */
  serverUrl: string;
  /** The Modal App every sandbox is created in (created on first use). */
  appName: string;
  /** Modal environment; null = the account's default. */
  environment: string | null;
  /** Most ModalClients kept (one per credential pair). */
  maxClients: number;
  /** Longest the SDK may wait when Modal asks it to back off (throttling), in seconds. */
  maxThrottleWaitSecs: number;
  /**
   * Container image for a profile's template, from `template.<name>: <image>` settings. A
   * template with no entry is used as a registry image as-is (e.g. "python:3.12-slim").
   */
  templateImages: Record<string, string>;
};

/** The registry image a sandbox of `template` runs. */
export const imageFor = (settings: Pick<ModalSettings, "templateImages">, template: string) => settings.templateImages[template] ?? template;

export function modalSettingsFrom(settings: Record<string, string | number | boolean>, env: Readonly<Record<string, string | undefined>>): ModalSettings {
  const rawUrl = env.SANDBOXER_MODAL_SERVER_URL?.trim() || (typeof settings.server_url === "string" ? settings.server_url : "") || DEFAULT_MODAL_SERVER_URL;
  const where = "SANDBOXER_MODAL_SERVER_URL / settings.server_url";
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new Error(`${where}: not a URL: ${JSON.stringify(rawUrl)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`${where}: must start with https:// (or http:// for a local fake), got ${url.protocol}//`);
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new Error(`${where}: must be a bare scheme://host:port with no path, query or credentials`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol === "http:" && !loopback) {
    throw new Error(`${where}: http:// sends the token in clear; it is only allowed for a loopback fake (localhost, 127.0.0.1, [::1]), got ${url.hostname}`);
  }
  // Every other setting: the environment variable, else the manifest, else the default.
  const pick = (envName: string, key: string) => {
    const fromEnv = env[envName]?.trim();
    return fromEnv ? fromEnv : settings[key];
  };
  const appName = String(pick("SANDBOXER_MODAL_APP_NAME", "app_name") ?? "sandboxer");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(appName)) {
    throw new Error(`SANDBOXER_MODAL_APP_NAME / settings.app_name: must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(appName)}`);
  }
  const rawEnvironment = pick("SANDBOXER_MODAL_ENVIRONMENT", "environment");
  const environment = typeof rawEnvironment === "string" && rawEnvironment.trim() ? rawEnvironment.trim() : null;
  const num = (envName: string, key: string, fallback: number) => {
    const raw = pick(envName, key);
    const v = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${envName} / settings.${key}: must be a positive whole number, got ${String(raw)}`);
    return v;
  };
  const templateImages: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (!key.startsWith("template.")) continue;
    if (typeof value !== "string" || !/^[\w.\-/:@]+$/.test(value)) throw new Error(`settings.${key}: must be a container image reference such as "python:3.12-slim", got ${JSON.stringify(value)}`);
    templateImages[key.slice("template.".length)] = value;
  }
  return {
    serverUrl: `${url.protocol}//${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`,
    appName,
    environment,
    maxClients: num("SANDBOXER_MODAL_MAX_CLIENTS", "max_clients", 8),
    maxThrottleWaitSecs: num("SANDBOXER_MODAL_MAX_THROTTLE_WAIT_S", "max_throttle_wait_s", 15),
    templateImages,
  };
}

// ---------------------------------------------------------------------------
// Errors

type GrpcLikeError = Error & { code: number; details: string };
const isGrpcError = (e: unknown): e is GrpcLikeError =>
  e instanceof Error && e.name === "ClientError" && typeof (e as GrpcLikeError).code === "number";

/** gRPC status code → name and our error kind. */
const GRPC: Record<number, [string, ProviderErrorKind]> = {
  1: ["CANCELLED", "unavailable"],
  2: ["UNKNOWN", "unknown"],
  3: ["INVALID_ARGUMENT", "invalid"],
  4: ["DEADLINE_EXCEEDED", "timeout"],
  5: ["NOT_FOUND", "not_found"],
  6: ["ALREADY_EXISTS", "conflict"],
  7: ["PERMISSION_DENIED", "auth"],
  8: ["RESOURCE_EXHAUSTED", "capacity"],
  9: ["FAILED_PRECONDITION", "invalid"],
  10: ["ABORTED", "conflict"],
  11: ["OUT_OF_RANGE", "invalid"],
  12: ["UNIMPLEMENTED", "invalid"],
  13: ["INTERNAL", "unknown"],
  14: ["UNAVAILABLE", "unavailable"],
  15: ["DATA_LOSS", "unknown"],
  16: ["UNAUTHENTICATED", "auth"],
};

/**
 * Maps whatever the SDK throws to the common ProviderError. Messages carry the operation, the
 * gRPC status name and Modal's own text, scrubbed of the call's credential values; never
 * request metadata (the SDK's errors do not include it).
 */
export function toProviderError(err: unknown, op: string, credentials: Readonly<Record<string, string>> = {}): ProviderError {
  if (err instanceof ProviderError) return err;
  const secrets = Object.values(credentials);
  const text = (s: string) => scrubSecrets(s, secrets).slice(0, 400);
  if (isGrpcError(err)) {
    const [name, kind] = GRPC[err.code] ?? [`STATUS_${err.code}`, "unknown" as const];
    return new ProviderError(kind, text(`modal ${op}: ${name}: ${err.details || "no details"}`), { providerCode: name });
  }
  const msg = err instanceof Error ? err.message : String(err);
  const kind: ProviderErrorKind =
    err instanceof NotFoundError ? "not_found"
    : err instanceof ResourceExhaustedError ? "capacity"
    : err instanceof ModalTimeoutError ? "timeout"
    : err instanceof InvalidError ? "invalid"
    : err instanceof ConflictError || err instanceof AlreadyExistsError ? "conflict"
    : /missing credentials/i.test(msg) ? "auth"
    : "unknown";
  return new ProviderError(kind, text(`modal ${op}: ${msg}`), { providerCode: err instanceof Error ? err.name : undefined });
}

// ---------------------------------------------------------------------------
// Clients

type ClientMiddleware = NonNullable<ModalClientParams["grpcMiddleware"]>[number];
type CreateWatch = { started: boolean; created: (sandboxId: string) => void };
type Entry = { client: ModalClient; app: Promise<App> | null; watches: Map<string, CreateWatch> };

const SANDBOX_CREATE = "/modal.client.ModalClient/SandboxCreate";
const ISOLATED_PROFILE = "sandboxer-adapter-no-profile";

/**
 * The SDK takes its server URL only from MODAL_SERVER_URL or ~/.modal.toml: ModalClientParams
 * declares an `endpoint` that 0.11.1 never reads. So the client is built with the MODAL_*
 * variables swapped for ours for the duration of the constructor, which is synchronous and the
 * only place the SDK reads them (getProfile); nothing else can run in between. Every other
 * MODAL_* variable is hidden meanwhile and MODAL_PROFILE names no profile, so neither the
 * worker's environment nor an operator's ~/.modal.toml can change where we connect or which
 * sandbox backend we use. The result is checked, so an SDK that ignored this fails loudly
 * instead of calling api.modal.com.
 */
function constructClient(settings: ModalSettings, tokenId: string, tokenSecret: string, middleware: ClientMiddleware, log: Logger): ModalClient {
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith("MODAL_"));
  let client: ModalClient;
  try {
    for (const [k] of saved) delete process.env[k];
    process.env.MODAL_SERVER_URL = settings.serverUrl;
    process.env.MODAL_SANDBOX_V2 = "0";
    process.env.MODAL_PROFILE = ISOLATED_PROFILE;
    client = new ModalClient({
      tokenId,
      tokenSecret,
      environment: settings.environment ?? undefined,
      maxThrottleWaitSecs: settings.maxThrottleWaitSecs,
      logger: sdkLogger(log, [tokenId, tokenSecret]),
      logLevel: "warn",
      grpcMiddleware: [middleware],
    });
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith("MODAL_")) delete process.env[k];
    for (const [k, v] of saved) process.env[k] = v;
  }
  if (client.profile.serverUrl !== settings.serverUrl || client.profile.sandboxV2 !== false) {
    throw new ProviderError("invalid", `modal: the SDK did not take server URL ${settings.serverUrl} and the V1 backend; refusing to use it`);
  }
  return client;
}

/** The SDK's log lines, through pino, with this client's credential values scrubbed. */
function sdkLogger(log: Logger, secrets: string[]): NonNullable<ModalClientParams["logger"]> {
  const fields = (args: unknown[]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < args.length; i += 2) {
      const v = args[i + 1];
      out[String(args[i])] = scrubSecrets(v instanceof Error ? v.message : String(v), secrets).slice(0, 300);
    }
    return out;
  };
  return {
    debug: (m, ...a) => log.debug(fields(a), `modal sdk: ${m}`),
    info: (m, ...a) => log.debug(fields(a), `modal sdk: ${m}`),
    warn: (m, ...a) => log.warn(fields(a), `modal sdk: ${m}`),
    error: (m, ...a) => log.error(fields(a), `modal sdk: ${m}`),
  };
}

/**
 * Sees every SandboxCreate this client sends: marks the create as sent and hands back the id in
 * the reply. The SDK's V1 create then keeps waiting (up to 21 min) for the sandbox to be
 * scheduled; the id lets provision return at once and leave readiness to waitReady.
 */
function createObserver(watches: Map<string, CreateWatch>): ClientMiddleware {
  const observer = async function* (call: any, options: any) {
    if (call.method.path !== SANDBOX_CREATE || call.requestStream || call.responseStream) {
      return yield* call.next(call.request, options);
    }
    const tags = (call.request.tags ?? []) as { tagName: string; tagValue: string }[];
    const watch = watches.get(watchKey(Object.fromEntries(tags.map((t) => [t.tagName, t.tagValue]))));
    if (watch) watch.started = true;
    const res = yield* call.next(call.request, options);
    watch?.created((res as { sandboxId: string }).sandboxId);
    return res;
  };
  return observer as unknown as ClientMiddleware;
}
const watchKey = (tags: Record<string, string | undefined>) => `${tags[MODAL_TAGS.sandboxId] ?? ""}@${tags[MODAL_TAGS.requestedAt] ?? ""}`;

const V1_ID = /^sb-[A-Za-z0-9]{22}$/;

// ---------------------------------------------------------------------------
// The adapter

export type ModalAdapterOptions = { extensionId: string; settings: ModalSettings; logger: Logger };

export function createModalAdapter(opts: ModalAdapterOptions): SandboxAdapter & { clientCount(): number } {
  const { settings } = opts;
  const sdkLog = opts.logger.child({ extensionId: opts.extensionId, component: "modal-sdk" });
  const clients = new Map<string, Entry>();

  function entryFor(ctx: AdapterContext): Entry {
    const tokenId = ctx.credentials.token_id;
    const tokenSecret = ctx.credentials.token_secret;
    if (!tokenId || !tokenSecret) {
      throw new ProviderError("auth", `modal: missing credential ${!tokenId ? "token_id" : "token_secret"}`);
    }
    const key = createHash("sha256").update(`${settings.serverUrl}\0${tokenId}\0${tokenSecret}`).digest("hex");
    let entry = clients.get(key);
    if (entry) {
      clients.delete(key); // re-insert: the map's order is least recently used first
    } else {
      const watches = new Map<string, CreateWatch>();
      entry = { client: constructClient(settings, tokenId, tokenSecret, createObserver(watches), sdkLog), app: null, watches };
      while (clients.size >= settings.maxClients) {
        const [oldKey, old] = clients.entries().next().value!;
        clients.delete(oldKey);
        old.client.close();
      }
    }
    clients.set(key, entry);
    return entry;
  }

  /** The App every sandbox lives in, looked up (created if missing) once per client. */
  function appFor(entry: Entry): Promise<App> {
    if (!entry.app) {
      const lookup = entry.client.apps.fromName(settings.appName, { createIfMissing: true });
      entry.app = lookup;
      lookup.catch(() => {
        if (entry.app === lookup) entry.app = null; // a failed lookup is retried next call
      });
    }
    return entry.app;
  }

  const sandboxFor = (entry: Entry, pid: string) => entry.client.sandboxes.fromId(pid);

  function checkId(pid: string, credentials: AdapterContext["credentials"]) {
    if (!V1_ID.test(pid)) throw toProviderError(new InvalidError(`not a Modal sandbox id this adapter issues: ${JSON.stringify(pid.slice(0, 40))}`), "sandbox", credentials);
  }

  /** When a finished sandbox ended, from Modal's listing of finished sandboxes; null if unknown. */
  async function endedAt(ctx: AdapterContext, entry: Entry, sb: Sandbox, exitCode: number): Promise<Date | null> {
    try {
      const tags = await sb.getTags();
      const ours = tags[MODAL_TAGS.sandboxId];
      if (ours) {
        const app = await appFor(entry);
        // The SDK's own list skips finished sandboxes; its client's SandboxList can include them.
        const res = await entry.client.cpClient.sandboxList({
          appId: app.appId,
          environmentName: entry.client.environmentName(),
          includeFinished: true,
          beforeTimestamp: 0,
          tags: [{ tagName: MODAL_TAGS.sandboxId, tagValue: ours }],
        });
        const finished = res.sandboxes.find((s) => s.id === sb.sandboxId)?.taskInfo?.finishedAt;
        if (finished) return new Date(Math.round(finished * 1000));
      }
      // Exit 124 is Modal's own timeout: it ended `timeout` after we created it.
      const at = Number(tags[MODAL_TAGS.requestedAt]);
      const timeoutS = Number(tags[MODAL_TAGS.timeoutS]);
      if (exitCode === 124 && at > 0 && timeoutS > 0) return new Date(at + timeoutS * 1000);
    } catch (err) {
      ctx.logger.debug({ providerSandboxId: sb.sandboxId, err: { message: toProviderError(err, "end lookup", ctx.credentials).message } }, "modal: could not look up when the sandbox ended");
    }
    return null;
  }

  return {
    extensionId: opts.extensionId,
    canExtend: false,
    clientCount: () => clients.size,
    // Drops the SDK clients (0.11.1's close() forgets the auth token; it has no way to close
    // its gRPC channel, which idles out on its own).
    async close() {
      for (const entry of clients.values()) entry.client.close();
      clients.clear();
    },

    async provision(ctx, req) {
      const entry = entryFor(ctx);
      const timeoutS = Math.min(req.timeoutSeconds, MODAL_MAX_TIMEOUT_S);
      let app: App;
      let image: Image;
      try {
        app = await appFor(entry);
        // Built (or found built) before the create, so a build is not counted as sandbox time.
        image = await entry.client.images.fromRegistry(imageFor(settings, req.spec.template)).build(app);
      } catch (err) {
        const pe = toProviderError(err, "create", ctx.credentials);
        if (pe.kind === "not_found") entry.app = null; // the app may have been deleted: look it up again
        throw pe;
      }
      const requestedAt = ctx.clock.now();
      const tags = {
        [MODAL_TAGS.managed]: "1",
        [MODAL_TAGS.sandboxId]: req.sandboxId,
        [MODAL_TAGS.teamId]: req.teamId,
        [MODAL_TAGS.requestedAt]: String(requestedAt.getTime()),
        [MODAL_TAGS.timeoutS]: String(timeoutS),
      };
      const key = watchKey(tags);
      const watch: CreateWatch = { started: false, created: () => {} };
      const created = new Promise<string>((resolve) => (watch.created = resolve));
      entry.watches.set(key, watch);
      const creating = entry.client.sandboxes.create(app, image, createParams(req.spec, timeoutS, tags));
      // After provision returns, the SDK keeps waiting for the sandbox to be scheduled; how
      // that ends is waitReady's business, so a later rejection here is expected and dropped.
      creating.catch(() => {});
      try {
        const providerSandboxId = await Promise.race([created, creating.then((sb) => sb.sandboxId)]);
        const now = ctx.clock.now();
        ctx.logger.debug({ providerSandboxId }, "modal sandbox created");
        return { providerSandboxId, startedAt: now, endsAt: new Date(now.getTime() + timeoutS * 1000) };
      } catch (err) {
        const pe = toProviderError(err, "create", ctx.credentials);
        if (pe.kind === "not_found") entry.app = null; // the app may have been deleted: look it up again
        // Sent but no answer: the sandbox may exist. "timeout" makes the lifecycle look for it by
        // tag instead of moving on to another provider. (UNAVAILABLE is not in this set: the SDK
        // already retried it with the same idempotency key, which Modal deduplicates.)
        if (watch.started && ["DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN", "INTERNAL"].includes(pe.details.providerCode ?? "")) {
          throw new ProviderError("timeout", `${pe.message} (the create may have happened)`, pe.details);
        }
        throw pe;
      } finally {
        entry.watches.delete(key);
      }
    },

    async waitReady(ctx, pid, timeoutMs) {
      checkId(pid, ctx.credentials);
      const entry = entryFor(ctx);
      const sb = await sandboxFor(entry, pid);
      try {
        // The SDK's own scheduling wait (what its create runs): polls SandboxGetTaskId every
        // 500 ms until the sandbox has a task, and gives up once less than one interval is left
        // (hence + 500: it stops at the first poll past timeoutMs). On timeout it terminates the
        // sandbox and throws ResourceExhausted.
        await sb._waitForScheduling(Math.max(0, timeoutMs) + 500);
      } catch (err) {
        if (err instanceof ResourceExhaustedError) {
          throw new ProviderError("timeout", `modal: sandbox ${pid} not scheduled within ${timeoutMs} ms (terminated)`, { providerCode: "NOT_SCHEDULED" });
        }
        if (err instanceof ConflictError) {
          throw new ProviderError("unavailable", `modal: sandbox ${pid} finished before it started`, { providerCode: "FINISHED" });
        }
        throw toProviderError(err, "wait ready", ctx.credentials);
      }
      let exitCode: number | null;
      try {
        exitCode = await sb.poll();
      } catch (err) {
        throw toProviderError(err, "wait ready", ctx.credentials);
      }
      if (exitCode !== null) {
        throw new ProviderError("unavailable", `modal: sandbox ${pid} finished right after it started (exit code ${exitCode})`, { providerCode: "FINISHED" });
      }
      return { readyAt: ctx.clock.now() };
    },

    async teardown(ctx, pid) {
      checkId(pid, ctx.credentials);
      const entry = entryFor(ctx);
      const sb = await sandboxFor(entry, pid);
      let exitCode: number | null;
      try {
        exitCode = await sb.poll();
      } catch (err) {
        const pe = toProviderError(err, "teardown", ctx.credentials);
        if (pe.kind === "not_found") return { outcome: "already_gone", endedAt: null };
        throw pe;
      }
      if (exitCode !== null) {
        // Already finished: on its own timeout (124), terminated elsewhere (137) or exited.
        return { outcome: "already_gone", endedAt: await endedAt(ctx, entry, sb, exitCode) };
      }
      try {
        await sb.terminate();
      } catch (err) {
        const pe = toProviderError(err, "teardown", ctx.credentials);
        if (pe.kind === "not_found") return { outcome: "already_gone", endedAt: null };
        throw pe;
      }
      return { outcome: "terminated", endedAt: ctx.clock.now() };
    },

    // Metering: the requested spec, per second of wall time. Modal bills the larger of requested
    // and used resources; createParams sets the CPU and memory limits equal to the requests, so
    // usage cannot exceed them and the requested amount is what Modal bills.
    estimateCost: estimateAllocated,
    meterActual: meterAllocated,

    async list(ctx, filter) {
      const entry = entryFor(ctx);
      const now = ctx.clock.now();
      const tags: Record<string, string> = filter?.sandboxId ? { [MODAL_TAGS.sandboxId]: filter.sandboxId } : { [MODAL_TAGS.managed]: "1" };
      const handles: Sandbox[] = [];
      try {
        const app = await appFor(entry);
        // Every page (SandboxList, newest first, continued below the last created_at); a page
        // that fails throws out of the loop, so a partial list is never returned.
        for await (const sb of entry.client.sandboxes.list({ appId: app.appId, tags })) handles.push(sb);
      } catch (err) {
        const pe = toProviderError(err, "list", ctx.credentials);
        if (pe.kind === "not_found") entry.app = null;
        throw pe;
      }
      const out: ProviderSandbox[] = [];
      for (let i = 0; i < handles.length; i += 8) {
        const rows = await Promise.all(
          handles.slice(i, i + 8).map(async (sb) => {
            try {
              return { sb, tags: await sb.getTags() };
            } catch (err) {
              const pe = toProviderError(err, "list tags", ctx.credentials);
              if (pe.kind === "not_found") return null; // gone since the listing
              throw pe;
            }
          }),
        );
        for (const row of rows) {
          if (!row) continue;
          const at = Number(row.tags[MODAL_TAGS.requestedAt]);
          const timeoutS = Number(row.tags[MODAL_TAGS.timeoutS]);
          const startedAt = at > 0 ? new Date(at) : now;
          out.push({
            providerSandboxId: row.sb.sandboxId,
            sandboxId: row.tags[MODAL_TAGS.sandboxId] ?? null,
            teamId: row.tags[MODAL_TAGS.teamId] ?? null,
            // The SDK lists unfinished sandboxes only and cannot say whether one is still queued.
            state: "running",
            startedAt,
            endsAt: timeoutS > 0 ? new Date(startedAt.getTime() + timeoutS * 1000) : null,
          });
        }
      }
      return out;
    },
  };
}

/** What we ask Modal for: limits equal to requests, so Modal bills exactly the requested spec. */
export function createParams(spec: SandboxSpec, timeoutS: number, tags: Record<string, string>) {
  const cores = spec.vcpuMilli / 1000 / VCPU_PER_MODAL_CORE;
  return {
    cpu: cores,
    cpuLimit: cores,
    memoryMiB: spec.memoryMiB,
    memoryLimitMiB: spec.memoryMiB,
    gpu: spec.gpuCount > 0 && spec.gpuType ? `${spec.gpuType}:${spec.gpuCount}` : undefined,
    timeoutMs: timeoutS * 1000,
    tags,
  };
}
