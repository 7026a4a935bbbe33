import { createHash, randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { fakeServiceDefinition, GenericStatus, type MethodName } from "./wire";

/**
 * A local stand-in for Modal's control plane: a gRPC server speaking `modal.client.ModalClient`
 * for the calls the official SDK makes on a sandbox's lifecycle (auth token, app, environment,
 * image, sandbox create / task id / wait / terminate / list / tags). The SDK is pointed at it
 * through its server URL; nothing else differs from talking to Modal.
 *
 * Behaviour the adapter relies on, as Modal documents or the SDK implies it:
 * - every call carries `x-modal-token-id` / `x-modal-token-secret`; every call but AuthTokenGet
 *   also carries the JWT AuthTokenGet returned as `x-modal-auth-token`;
 * - a sandbox gets a task (is scheduled) some time after SandboxCreate, and ends on its own
 *   `timeout_secs` after creation with status TIMEOUT (the SDK's exit code 124);
 * - SandboxList pages newest first by `created_at`, continuing below `before_timestamp`, and
 *   leaves finished sandboxes out unless `include_finished`;
 * - a SandboxCreate retried with the same `x-idempotency-key` returns the same sandbox.
 *
 * Times come from `clock` (tests share one with the code under test). Faults are queued or
 * standing (see FakeFault) and driven in-process or, from main.ts, over HTTP.
 */

export type FakeFault =
  /** Calls fail UNAUTHENTICATED, as with a revoked token. */
  | { kind: "unauthenticated"; times?: number }
  /**
   * Calls (all, or only `methods`) fail UNAVAILABLE. The SDK retries a unary call 3 times, so a
   * fault must last 4 calls or more to reach the caller. `afterEffect` (SandboxCreate only):
   * create the sandbox, then fail the reply, as a lost response.
   */
  | { kind: "unavailable"; times?: number; methods?: MethodName[]; afterEffect?: boolean }
  /** New sandboxes get their task only `readyAfterMs` after creation. */
  | { kind: "slow_start"; readyAfterMs: number; times?: number }
  /** New sandboxes end on their own `afterMs` after creation (exit code `exitCode`, default 1). */
  | { kind: "end_early"; afterMs: number; exitCode?: number; times?: number }
  /** GPU creates (optionally only of `gpuTypes`) fail RESOURCE_EXHAUSTED: no capacity. */
  | { kind: "gpu_capacity"; gpuTypes?: string[]; times?: number };

type Result = { status: number; exitcode: number; exception: string };
type End = { atMs: number } & Result;

export type FakeSandbox = {
  id: string;
  appId: string;
  environmentName: string;
  createdAtMs: number;
  timeoutSecs: number;
  tags: Record<string, string>;
  imageId: string;
  /** The image's build steps, e.g. "FROM python:3.12-slim". */
  image: string;
  milliCpu: number;
  milliCpuMax: number;
  memoryMb: number;
  memoryMbMax: number;
  gpuType: string | null;
  gpuCount: number;
  /** When the sandbox gets its task; null = never. */
  scheduledAtMs: number | null;
  taskId: string;
  /** An end already decided: terminated, or ending early on its own. */
  end: End | null;
};

export type FakeSandboxView = FakeSandbox & { state: "starting" | "running" | "finished"; endedAtMs: number | null; result: Result | null };

export type ModalFakeOptions = {
  clock?: { now(): Date };
  /** Accepted token pairs (id → secret). */
  tokens?: Record<string, string>;
  /** Sandboxes per SandboxList page. */
  pageSize?: number;
  /** Lifetime of the auth tokens handed out, in seconds (real time: the SDK reads it with Date.now). */
  authTokenTtlSeconds?: number;
};

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function modalId(prefix: string): string {
  const bytes = randomBytes(22);
  return `${prefix}-${Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join("")}`;
}
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

type Unary = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => void;
class GrpcFailure extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}
const fail = (code: grpc.status, message: string) => new GrpcFailure(code, message);

export function createModalFake(opts: ModalFakeOptions = {}) {
  const clock = opts.clock ?? { now: () => new Date() };
  const tokens = new Map(Object.entries(opts.tokens ?? {}));
  let pageSize = opts.pageSize ?? 50;
  const authTtl = opts.authTokenTtlSeconds ?? 3600;

  let sandboxes = new Map<string, FakeSandbox>();
  const apps = new Map<string, string>(); // `${env}/${name}` → app id
  let images = new Map<string, { id: string; built: boolean }>(); // dockerfile → image
  let imagesById = new Map<string, { id: string; built: boolean }>();
  const authTokens = new Map<string, { tokenId: string; expSec: number }>();
  let idempotency = new Map<string, string>(); // x-idempotency-key of a SandboxCreate → sandbox id
  let faults: (FakeFault & { left: number })[] = [];
  let calls: { method: MethodName; atMs: number }[] = [];
  /** Creates and terminations in the order they happened (tests check the order). */
  let history: { op: "create" | "terminate"; sandboxId: string; tags: Record<string, string> }[] = [];
  let lastCreatedMs = 0;

  const nowMs = () => clock.now().getTime();

  function takeFault<K extends FakeFault["kind"]>(kind: K, match: (f: Extract<FakeFault, { kind: K }>) => boolean = () => true) {
    const f = faults.find((x) => x.kind === kind && x.left > 0 && match(x as unknown as Extract<FakeFault, { kind: K }>));
    if (!f) return null;
    f.left -= 1;
    if (f.left <= 0) faults = faults.filter((x) => x !== f);
    return f as unknown as Extract<FakeFault, { kind: K }>;
  }

  function endOf(sb: FakeSandbox, now: number): End | null {
    const ends: End[] = [];
    if (sb.end && sb.end.atMs <= now) ends.push(sb.end);
    const timeoutAt = sb.createdAtMs + sb.timeoutSecs * 1000;
    if (timeoutAt <= now) ends.push({ atMs: timeoutAt, status: GenericStatus.TIMEOUT, exitcode: 0, exception: "Sandbox timed out" });
    return ends.sort((a, b) => a.atMs - b.atMs)[0] ?? null;
  }

  function view(sb: FakeSandbox, now = nowMs()): FakeSandboxView {
    const end = endOf(sb, now);
    const scheduled = sb.scheduledAtMs !== null && sb.scheduledAtMs <= now && (!end || sb.scheduledAtMs <= end.atMs);
    const result = end ? { status: end.status, exitcode: end.exitcode, exception: end.exception } : null;
    return { ...sb, state: end ? "finished" : scheduled ? "running" : "starting", endedAtMs: end?.atMs ?? null, result };
  }

  function checkAuth(method: MethodName, md: grpc.Metadata) {
    if (takeFault("unauthenticated")) throw fail(grpc.status.UNAUTHENTICATED, "Token is invalid or revoked");
    const tokenId = String(md.get("x-modal-token-id")[0] ?? "");
    const tokenSecret = String(md.get("x-modal-token-secret")[0] ?? "");
    if (!tokenId || !tokenSecret) throw fail(grpc.status.UNAUTHENTICATED, "Missing token credentials");
    if (tokens.size > 0 && tokens.get(tokenId) !== tokenSecret) {
      throw fail(grpc.status.UNAUTHENTICATED, "Token ID or secret is invalid");
    }
    if (method === "AuthTokenGet") return tokenId;
    const jwt = String(md.get("x-modal-auth-token")[0] ?? "");
    const issued = authTokens.get(jwt);
    if (!issued || issued.tokenId !== tokenId) throw fail(grpc.status.UNAUTHENTICATED, "Missing or unknown auth token");
    if (issued.expSec <= Math.floor(Date.now() / 1000)) throw fail(grpc.status.UNAUTHENTICATED, "Auth token expired");
    return tokenId;
  }

  function sandboxOr404(id: string) {
    const sb = sandboxes.get(id);
    if (!sb) throw fail(grpc.status.NOT_FOUND, `Sandbox ${id} not found`);
    return sb;
  }
  const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([tagName, tagValue]) => ({ tagName, tagValue }));
  const tagsOf = (list: { tagName: string; tagValue: string }[]) => Object.fromEntries(list.map((t) => [t.tagName, t.tagValue]));

  const handlers: Record<Exclude<MethodName, "ImageJoinStreaming">, (req: any, md: grpc.Metadata) => unknown> = {
    AuthTokenGet(_req, md) {
      const tokenId = md.get("x-modal-token-id")[0] as string;
      const expSec = Math.floor(Date.now() / 1000) + authTtl;
      const sub = createHash("sha256").update(tokenId).digest("hex").slice(0, 16);
      const jwt = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub, exp: expSec, jti: randomBytes(6).toString("hex") })}.fake`;
      authTokens.set(jwt, { tokenId, expSec });
      return { token: jwt };
    },

    AppGetOrCreate(req) {
      const key = `${req.environmentName || "main"}/${req.appName}`;
      let id = apps.get(key);
      if (!id) {
        if (req.objectCreationType !== 1) throw fail(grpc.status.NOT_FOUND, `App '${req.appName}' not found`);
        id = modalId("ap");
        apps.set(key, id);
      }
      return { appId: id };
    },

    EnvironmentGetOrCreate(req) {
      return {
        environmentId: "en-fakeenvironment00000000",
        metadata: { name: req.deploymentName || "main", settings: { imageBuilderVersion: "2025.06", webhookSuffix: "fake" } },
      };
    },

    ImageGetOrCreate(req) {
      const key = (req.image?.dockerfileCommands ?? []).join("\n");
      let image = images.get(key);
      if (!image) {
        image = { id: modalId("im"), built: false };
        images.set(key, image);
        imagesById.set(image.id, image);
      }
      // A new image is "building": the SDK then joins the build stream (ImageJoinStreaming).
      return image.built ? { imageId: image.id, result: { status: GenericStatus.SUCCESS } } : { imageId: image.id };
    },

    SandboxCreate(req, md) {
      const key = String(md.get("x-idempotency-key")[0] ?? "");
      const earlier = key ? idempotency.get(key) : undefined;
      if (earlier) return { sandboxId: earlier, metadata: { appId: sandboxes.get(earlier)?.appId ?? "" } };

      if (![...apps.values()].includes(req.appId)) throw fail(grpc.status.NOT_FOUND, `App ${req.appId} not found`);
      const def = req.definition ?? {};
      const image = imagesById.get(def.imageId);
      const imageSteps = [...images.entries()].find(([, im]) => im.id === def.imageId)?.[0] ?? "";
      if (!image?.built) throw fail(grpc.status.FAILED_PRECONDITION, `Image ${def.imageId} is not built`);
      const timeoutSecs = def.timeoutSecs || 300;
      if (timeoutSecs > 86_400) throw fail(grpc.status.INVALID_ARGUMENT, "timeout must be at most 24 hours");
      const gpu = def.resources?.gpuConfig;
      const gpuType = gpu?.count > 0 ? String(gpu.gpuType) : null;
      if (gpuType && takeFault("gpu_capacity", (f) => !f.gpuTypes || f.gpuTypes.includes(gpuType))) {
        throw fail(grpc.status.RESOURCE_EXHAUSTED, `No capacity for ${gpuType} GPUs in any region right now`);
      }

      const now = nowMs();
      const createdAtMs = Math.max(now, lastCreatedMs + 1); // strictly increasing: pages never tie
      lastCreatedMs = createdAtMs;
      const slow = takeFault("slow_start");
      const early = takeFault("end_early");
      const sb: FakeSandbox = {
        id: modalId("sb"),
        appId: req.appId,
        environmentName: req.environmentName || "main",
        createdAtMs,
        timeoutSecs,
        tags: tagsOf(req.tags ?? []),
        imageId: def.imageId,
        image: imageSteps,
        milliCpu: def.resources?.milliCpu ?? 0,
        milliCpuMax: def.resources?.milliCpuMax ?? 0,
        memoryMb: def.resources?.memoryMb ?? 0,
        memoryMbMax: def.resources?.memoryMbMax ?? 0,
        gpuType,
        gpuCount: gpuType ? gpu.count : 0,
        scheduledAtMs: createdAtMs + (slow ? slow.readyAfterMs : 0),
        taskId: modalId("ta"),
        end: early ? { atMs: createdAtMs + early.afterMs, status: GenericStatus.FAILURE, exitcode: early.exitCode ?? 1, exception: "" } : null,
      };
      sandboxes.set(sb.id, sb);
      history.push({ op: "create", sandboxId: sb.id, tags: sb.tags });
      if (key) idempotency.set(key, sb.id);
      if (takeFault("unavailable", (f) => Boolean(f.afterEffect) && (f.methods ?? ["SandboxCreate"]).includes("SandboxCreate"))) {
        throw fail(grpc.status.UNAVAILABLE, "connection reset after the sandbox was created");
      }
      return { sandboxId: sb.id, metadata: { appId: sb.appId } };
    },

    SandboxGetTaskId(req) {
      const v = view(sandboxOr404(req.sandboxId));
      const everScheduled = v.scheduledAtMs !== null && v.scheduledAtMs <= nowMs() && (v.endedAtMs === null || v.scheduledAtMs <= v.endedAtMs);
      return { taskId: everScheduled ? v.taskId : undefined, taskResult: v.result ?? undefined };
    },

    SandboxWait(req) {
      const v = view(sandboxOr404(req.sandboxId));
      return { result: v.result ?? undefined, metadata: { appId: v.appId } };
    },

    SandboxTerminate(req) {
      const sb = sandboxOr404(req.sandboxId);
      const v = view(sb);
      if (v.result) return { existingResult: v.result };
      sb.end = { atMs: nowMs(), status: GenericStatus.TERMINATED, exitcode: 0, exception: "Sandbox terminated" };
      history.push({ op: "terminate", sandboxId: sb.id, tags: sb.tags });
      return {};
    },

    SandboxList(req) {
      const now = nowMs();
      const want = tagsOf(req.tags ?? []);
      const rows = [...sandboxes.values()]
        .map((sb) => view(sb, now))
        .filter((v) => (!req.appId || v.appId === req.appId) && (req.includeFinished || v.state !== "finished"))
        .filter((v) => Object.entries(want).every(([k, val]) => v.tags[k] === val))
        .filter((v) => !req.beforeTimestamp || v.createdAtMs / 1000 < req.beforeTimestamp)
        .sort((a, b) => b.createdAtMs - a.createdAtMs)
        .slice(0, pageSize);
      return {
        sandboxes: rows.map((v) => ({
          id: v.id,
          createdAt: v.createdAtMs / 1000,
          appId: v.appId,
          tags: tagList(v.tags),
          timeoutSecs: v.timeoutSecs,
          taskInfo: {
            id: v.state === "starting" ? "" : v.taskId,
            enqueuedAt: v.createdAtMs / 1000,
            startedAt: v.state === "starting" || v.scheduledAtMs === null ? 0 : v.scheduledAtMs / 1000,
            finishedAt: v.endedAtMs === null ? 0 : v.endedAtMs / 1000,
            result: v.result ?? undefined,
          },
        })),
      };
    },

    SandboxTagsSet(req) {
      sandboxOr404(req.sandboxId).tags = tagsOf(req.tags ?? []);
      return {};
    },

    SandboxTagsGet(req) {
      return { tags: tagList(sandboxOr404(req.sandboxId).tags) };
    },
  };

  function wrap(method: Exclude<MethodName, "ImageJoinStreaming">): Unary {
    return (call, callback) => {
      calls.push({ method, atMs: nowMs() });
      try {
        checkAuth(method, call.metadata);
        if (takeFault("unavailable", (f) => !f.afterEffect && (!f.methods || f.methods.includes(method)))) {
          throw fail(grpc.status.UNAVAILABLE, "Modal is temporarily unavailable");
        }
        callback(null, handlers[method](call.request, call.metadata));
      } catch (err) {
        if (err instanceof GrpcFailure) callback({ code: err.code, details: err.message });
        else callback({ code: grpc.status.INTERNAL, details: (err as Error).message });
      }
    };
  }

  const implementation: grpc.UntypedServiceImplementation = {
    ImageJoinStreaming: (call: grpc.ServerWritableStream<any, any>) => {
      calls.push({ method: "ImageJoinStreaming", atMs: nowMs() });
      try {
        checkAuth("ImageJoinStreaming", call.metadata);
        const image = imagesById.get(call.request.imageId);
        if (!image) throw fail(grpc.status.NOT_FOUND, `Image ${call.request.imageId} not found`);
        image.built = true;
        call.write({ entryId: "1", result: { status: GenericStatus.SUCCESS }, eof: true });
        call.end();
      } catch (err) {
        call.emit("error", { code: err instanceof GrpcFailure ? err.code : grpc.status.INTERNAL, details: (err as Error).message });
      }
    },
  };
  for (const m of Object.keys(handlers) as (keyof typeof handlers)[]) implementation[m] = wrap(m);

  const server = new grpc.Server();
  server.addService(fakeServiceDefinition(), implementation);

  return {
    /** Starts listening; resolves to the server URL to give the SDK (plaintext http://). */
    listen(port = 0, host = "127.0.0.1"): Promise<string> {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
          if (err) reject(err);
          else resolve(`http://${host}:${bound}`);
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      });
    },

    inject(...add: FakeFault[]) {
      for (const f of add) faults.push({ ...f, left: f.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults = [];
    },
    faults: () => faults.map(({ left, ...f }) => ({ ...f, left: Number.isFinite(left) ? left : null })),
    setPageSize(n: number) {
      pageSize = n;
    },
    setTokens(pairs: Record<string, string>) {
      tokens.clear();
      for (const [id, secret] of Object.entries(pairs)) tokens.set(id, secret);
    },
    /**
     * Forgets every sandbox, image, fault and call. Apps and the auth tokens already handed out
     * stay, as they would on Modal: clients that cached them keep working.
     */
    reset() {
      sandboxes = new Map();
      images = new Map();
      imagesById = new Map();
      idempotency = new Map();
      faults = [];
      calls = [];
      history = [];
    },

    sandbox: (id: string) => {
      const sb = sandboxes.get(id);
      return sb ? view(sb) : null;
    },
    sandboxes: (filter: { tags?: Record<string, string> } = {}) =>
      [...sandboxes.values()].map((sb) => view(sb)).filter((v) => Object.entries(filter.tags ?? {}).every(([k, val]) => v.tags[k] === val)),
    /** Sandboxes created (retries with the same idempotency key count once). */
    createCount: (filter: { tags?: Record<string, string> } = {}) =>
      [...sandboxes.values()].filter((sb) => Object.entries(filter.tags ?? {}).every(([k, val]) => sb.tags[k] === val)).length,
    calls: (method?: MethodName) => calls.filter((c) => !method || c.method === method).length,
    history: (filter: { tags?: Record<string, string> } = {}) =>
      history.filter((h) => Object.entries(filter.tags ?? {}).every(([k, val]) => h.tags[k] === val)).map(({ op, sandboxId }) => ({ op, sandboxId })),
    /** Ends a sandbox on Modal's side at `atMs` (default now), as an early exit or a kill would. */
    endSandbox(id: string, end: { atMs?: number; status?: number; exitcode?: number } = {}) {
      const sb = sandboxOr404(id);
      sb.end = { atMs: end.atMs ?? nowMs(), status: end.status ?? GenericStatus.FAILURE, exitcode: end.exitcode ?? 1, exception: "" };
    },
  };
}

export type ModalFake = ReturnType<typeof createModalFake>;
