/**
 * A local fake of the E2B control-plane API, for tests and for `npm run up -- --fakes`. Not
 * product code: nothing in the product imports it.
 *
 * It speaks the HTTP the official SDK speaks (create on `/v2/sandboxes` and the older
 * `/sandboxes`, get, kill, set-timeout, paginated list with `nextToken` / `X-Next-Token`), with
 * E2B's status codes and `{code, message[, error_code]}` error bodies, keeps its sandboxes in
 * memory per API key (as E2B keeps them per team), ends them at their timeout, and lets a test
 * inject faults: any status on any operation (with `Retry-After`), a create that completes after
 * the client has given up, a sandbox the provider ends early, a concurrency cap, small pages.
 *
 * Every control is available in-process (the returned object) and over HTTP under `/_fake/`
 * (for a fake run as its own process, see main.ts); the control routes need no API key.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash, randomBytes } from "node:crypto";

export type FakeOp = "create" | "get" | "kill" | "set_timeout" | "list";

export type FakeFault = {
  op: FakeOp;
  /** Answer with this status and an E2B error body instead of doing the call. */
  status?: number;
  message?: string;
  /** The body's machine-readable `error_code` (E2B sends it on 5xx). */
  errorCode?: string;
  /** A `Retry-After` header, in seconds. */
  retryAfterSeconds?: number;
  /**
   * Create only: the provider creates the sandbox `createAfterMs` after the request arrives and
   * answers only `replyAfterMs` after it (by then the client has given up).
   */
  slowCreate?: { createAfterMs: number; replyAfterMs: number };
  /** Only calls about this sandbox (get, kill, set_timeout). */
  sandboxId?: string;
  /** How many matching calls it applies to (default 1). */
  times?: number;
  /** Matching calls to let through before it applies (e.g. 1: the second list page fails). */
  skip?: number;
};

export type FakeConfig = {
  /** API keys accepted; null accepts any key shaped like a real one (`e2b_` + hex). */
  apiKeys: string[] | null;
  /** Live (running or paused) sandboxes per key before create answers 429 (plan: 20 or 100). */
  maxConcurrent: number;
  /** Creates per second per key before create answers 429 with Retry-After; null = no limit. */
  createsPerSecond: number | null;
  /** Longest sandbox life in seconds (plan: 3600 or 86400); create above it is a 400, set-timeout clamps to it. */
  planMaxSeconds: number;
  /** Most sandboxes per list page, whatever `limit` the client asks for. */
  pageSize: number;
  /** What a template allocates (E2B sizes sandboxes by template). */
  templateResources: Record<string, { cpuCount: number; memoryMB: number; diskSizeMB: number }>;
};

export type FakeSandbox = {
  sandboxID: string;
  templateID: string;
  clientID: string;
  /** Which API key owns it, as a fingerprint (`key_` + 12 hex of its SHA-256), never the key. */
  owner: string;
  metadata: Record<string, string>;
  startedAt: number;
  endAt: number;
  state: "running" | "paused";
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  /** Set once it has ended: when, and why. */
  endedAt: number | null;
  endReason: "killed" | "timeout" | "provider" | null;
};

export type FakeCreate = {
  path: string;
  at: number;
  sandboxID: string | null;
  status: number;
  templateID: string | undefined;
  timeout: number | undefined;
  metadata: Record<string, string>;
};

export type FakeRequest = { method: string; path: string; status: number; at: number };

const DEFAULT_RESOURCES = { cpuCount: 2, memoryMB: 512, diskSizeMB: 1024 };

export function defaultFakeConfig(): FakeConfig {
  return {
    apiKeys: null,
    maxConcurrent: 100,
    createsPerSecond: null,
    planMaxSeconds: 86_400,
    pageSize: 100,
    templateResources: { base: DEFAULT_RESOURCES },
  };
}

class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const errorReply = (status: number, message: string, extra: { errorCode?: string; retryAfterSeconds?: number } = {}) =>
  new Reply(
    status,
    { code: status, message, ...(extra.errorCode ? { error_code: extra.errorCode } : {}) },
    extra.retryAfterSeconds !== undefined ? { "Retry-After": String(extra.retryAfterSeconds) } : {},
  );

const newSandboxId = () => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(20), (b) => alphabet[b % alphabet.length]).join("");
};

function encodeToken(s: FakeSandbox) {
  return Buffer.from(`${s.startedAt}:${s.sandboxID}`).toString("base64url");
}
function decodeToken(token: string): { startedAt: number; sandboxID: string } | null {
  const m = /^(\d+):([a-z0-9]+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  return m ? { startedAt: Number(m[1]), sandboxID: m[2]! } : null;
}

/** Newest first, ties by id: the order E2B's list uses by default, and what the cursor follows. */
const newestFirst = (a: FakeSandbox, b: FakeSandbox) => b.startedAt - a.startedAt || (a.sandboxID < b.sandboxID ? 1 : a.sandboxID > b.sandboxID ? -1 : 0);

export type E2bFake = Awaited<ReturnType<typeof startE2bFake>>;

export async function startE2bFake(opts: { port?: number; host?: string; now?: () => number; config?: Partial<FakeConfig> } = {}) {
  const now = opts.now ?? (() => Date.now());
  let config: FakeConfig = { ...defaultFakeConfig(), ...opts.config };
  let faults: (FakeFault & { left: number; skipLeft: number })[] = [];
  const sandboxes = new Map<string, FakeSandbox>();
  const creates: FakeCreate[] = [];
  const requests: FakeRequest[] = [];
  const createTimes = new Map<string, number[]>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters: (() => void)[] = [];

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const notify = () => waiters.splice(0).forEach((w) => w());

  /** Ends sandboxes whose timeout has passed, as E2B does. */
  function expire() {
    const t = now();
    for (const s of sandboxes.values()) {
      if (s.endedAt === null && s.endAt <= t) {
        s.endedAt = s.endAt;
        s.endReason = "timeout";
      }
    }
  }
  const live = (owner: string) => [...sandboxes.values()].filter((s) => s.endedAt === null && s.owner === owner);

  function takeFault(op: FakeOp, sandboxId?: string): FakeFault | null {
    const f = faults.find((x) => x.op === op && (!x.sandboxId || x.sandboxId === sandboxId));
    if (!f) return null;
    if (f.skipLeft > 0) {
      f.skipLeft -= 1;
      return null;
    }
    f.left -= 1;
    if (f.left <= 0) faults = faults.filter((x) => x !== f);
    return f;
  }
  const faultReply = (f: FakeFault) =>
    errorReply(f.status!, f.message ?? defaultMessage(f.status!), { errorCode: f.errorCode, retryAfterSeconds: f.retryAfterSeconds });

  function defaultMessage(status: number) {
    if (status === 401) return "Invalid API key";
    if (status === 404) return "sandbox not found";
    if (status === 409) return "sandbox is busy: it is being killed or paused";
    if (status === 429) return "Rate limit exceeded";
    if (status === 503) return "no capacity to place the sandbox right now";
    return "internal server error";
  }

  function authorise(req: http.IncomingMessage): string | Reply {
    const key = req.headers["x-api-key"];
    const value = Array.isArray(key) ? key[0] : key;
    const ok = value && (config.apiKeys ? config.apiKeys.includes(value) : /^e2b_[0-9a-f]+$/.test(value));
    return ok ? `key_${createHash("sha256").update(value).digest("hex").slice(0, 12)}` : errorReply(401, "Invalid API key, it must start with 'e2b_'");
  }

  function detail(s: FakeSandbox) {
    return {
      templateID: s.templateID,
      sandboxID: s.sandboxID,
      clientID: s.clientID,
      startedAt: new Date(s.startedAt).toISOString(),
      endAt: new Date(s.endAt).toISOString(),
      cpuCount: s.cpuCount,
      memoryMB: s.memoryMB,
      diskSizeMB: s.diskSizeMB,
      metadata: s.metadata,
      state: s.state,
      envdVersion: "0.2.0",
      domain: null,
    };
  }

  function createSandbox(owner: string, body: { templateID: string; timeout: number; metadata: Record<string, string> }): FakeSandbox {
    const t = now();
    const res = config.templateResources[body.templateID] ?? DEFAULT_RESOURCES;
    const s: FakeSandbox = {
      sandboxID: newSandboxId(),
      templateID: body.templateID,
      clientID: "6532622b",
      owner,
      metadata: body.metadata,
      startedAt: t,
      endAt: t + body.timeout * 1000,
      state: "running",
      ...res,
      endedAt: null,
      endReason: null,
    };
    sandboxes.set(s.sandboxID, s);
    const times = (createTimes.get(owner) ?? []).filter((x) => x > t - 1000);
    times.push(t);
    createTimes.set(owner, times);
    notify();
    return s;
  }

  async function handleCreate(req: http.IncomingMessage, res: http.ServerResponse, path: string, owner: string, raw: unknown): Promise<Reply | null> {
    const body = (raw ?? {}) as { templateID?: unknown; timeout?: unknown; metadata?: unknown };
    const record: FakeCreate = {
      path,
      at: now(),
      sandboxID: null,
      status: 0,
      templateID: typeof body.templateID === "string" ? body.templateID : undefined,
      timeout: typeof body.timeout === "number" ? body.timeout : undefined,
      metadata: isStringMap(body.metadata) ? body.metadata : {},
    };
    creates.push(record);
    const answer = (r: Reply) => {
      record.status = r.status;
      return r;
    };
    const fault = takeFault("create");
    if (fault?.status) return answer(faultReply(fault));
    if (typeof body.templateID !== "string" || body.templateID === "") return answer(errorReply(400, "templateID is required"));
    if (body.metadata !== undefined && !isStringMap(body.metadata)) return answer(errorReply(400, "metadata must be a map of strings"));
    const timeout = body.timeout === undefined ? (path === "/v2/sandboxes" ? 300 : 15) : body.timeout;
    if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout <= 0) {
      return answer(errorReply(400, `timeout must be a positive number of seconds, got ${String(body.timeout)}`));
    }
    if (timeout > config.planMaxSeconds) {
      return answer(errorReply(400, `timeout cannot be greater than ${config.planMaxSeconds / 3600} hours`));
    }
    if (live(owner).length >= config.maxConcurrent) {
      return answer(
        errorReply(429, `You have reached the maximum number of concurrent E2B sandboxes (${config.maxConcurrent}). If you need more, please contact us at 'https://e2b.dev/docs/getting-help'`),
      );
    }
    if (config.createsPerSecond !== null && (createTimes.get(owner) ?? []).filter((x) => x > now() - 1000).length >= config.createsPerSecond) {
      return answer(errorReply(429, "Rate limit exceeded, please try again later", { retryAfterSeconds: 1 }));
    }
    const input = { templateID: body.templateID, timeout, metadata: record.metadata };
    const created = (s: FakeSandbox) => ({
      templateID: s.templateID,
      sandboxID: s.sandboxID,
      clientID: s.clientID,
      envdVersion: "0.2.0",
      envdAccessToken: randomBytes(16).toString("hex"),
      domain: null,
    });
    if (fault?.slowCreate) {
      const { createAfterMs, replyAfterMs } = fault.slowCreate;
      later(createAfterMs, () => {
        const s = createSandbox(owner, input);
        record.sandboxID = s.sandboxID;
        later(replyAfterMs, () => {
          record.status = 201;
          if (!res.destroyed && !res.headersSent) send(res, new Reply(201, created(s)));
        });
      });
      return null; // answered later, if the client is still there
    }
    const s = createSandbox(owner, input);
    record.sandboxID = s.sandboxID;
    return answer(new Reply(201, created(s)));
  }

  function handleList(url: URL, owner: string): Reply {
    const fault = takeFault("list");
    if (fault?.status) return faultReply(fault);
    const limitRaw = url.searchParams.get("limit");
    const limit = limitRaw === null ? 100 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return errorReply(400, "limit must be between 1 and 100");
    const states = (url.searchParams.get("state") ?? "running,paused").split(",").filter(Boolean);
    const wanted: [string, string][] = [];
    const metadata = url.searchParams.get("metadata");
    if (metadata) {
      for (const [k, v] of new URLSearchParams(metadata)) wanted.push([decodeURIComponent(k), decodeURIComponent(v)]);
    }
    let rows = live(owner)
      .filter((s) => states.includes(s.state) && wanted.every(([k, v]) => s.metadata[k] === v))
      .sort(newestFirst);
    const token = url.searchParams.get("nextToken");
    if (token) {
      const cursor = decodeToken(token);
      if (!cursor) return errorReply(400, "invalid nextToken");
      const probe = { startedAt: cursor.startedAt, sandboxID: cursor.sandboxID } as FakeSandbox;
      rows = rows.filter((s) => newestFirst(probe, s) < 0);
    }
    const page = rows.slice(0, Math.min(limit, config.pageSize));
    const headers: Record<string, string> = { "X-Total-Running": String(live(owner).filter((s) => s.state === "running").length) };
    if (rows.length > page.length) headers["X-Next-Token"] = encodeToken(page[page.length - 1]!);
    return new Reply(200, page.map(detail), headers);
  }

  function route(req: http.IncomingMessage, url: URL, owner: string, body: unknown, res: http.ServerResponse): Promise<Reply | null> | Reply {
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (method === "POST" && (path === "/v2/sandboxes" || path === "/sandboxes")) return handleCreate(req, res, path, owner, body);
    if (method === "GET" && (path === "/v2/sandboxes" || path === "/sandboxes")) return handleList(url, owner);
    const m = /^\/sandboxes\/([^/]+)(\/timeout)?$/.exec(path);
    if (!m) return errorReply(404, `no route ${method} ${path}`);
    const id = decodeURIComponent(m[1]!);
    const s = sandboxes.get(id);
    const mine = s && s.owner === owner && s.endedAt === null ? s : null;
    const notFound = () => errorReply(404, `sandbox "${id}" doesn't exist or you don't have access to it`);
    if (m[2]) {
      if (method !== "POST") return errorReply(405, "method not allowed");
      const fault = takeFault("set_timeout", id);
      if (fault?.status) return faultReply(fault);
      if (!mine) return notFound();
      if (mine.state !== "running") return errorReply(409, `sandbox "${id}" is not running`);
      const timeout = (body as { timeout?: unknown } | null)?.timeout;
      if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0) return errorReply(400, "timeout must be a non-negative number of seconds");
      // E2B clamps to the plan's maximum life instead of refusing.
      mine.endAt = Math.min(now() + timeout * 1000, mine.startedAt + config.planMaxSeconds * 1000);
      return new Reply(204, null);
    }
    if (method === "GET") {
      const fault = takeFault("get", id);
      if (fault?.status) return faultReply(fault);
      return mine ? new Reply(200, detail(mine)) : notFound();
    }
    if (method === "DELETE") {
      const fault = takeFault("kill", id);
      if (fault?.status) return faultReply(fault);
      if (!mine) return notFound();
      mine.endedAt = now();
      mine.endReason = "killed";
      return new Reply(204, null);
    }
    return errorReply(405, "method not allowed");
  }

  // ---- control surface (in-process and over HTTP) ----
  const control = {
    inject(...fs: FakeFault[]) {
      for (const f of fs) faults.push({ ...f, left: f.times ?? 1, skipLeft: f.skip ?? 0 });
    },
    clearFaults() {
      faults = [];
    },
    configure(patch: Partial<FakeConfig>) {
      config = { ...config, ...patch };
      return config;
    },
    /** The provider ends a sandbox on its own (crash, host loss, the team's own kill), at `at` or now. */
    endEarly(sandboxID: string, at?: number) {
      const s = sandboxes.get(sandboxID);
      if (!s || s.endedAt !== null) return false;
      s.endedAt = at ?? now();
      s.endReason = "provider";
      return true;
    },
    sandboxes(): FakeSandbox[] {
      expire();
      return [...sandboxes.values()].map((s) => ({ ...s, metadata: { ...s.metadata } }));
    },
    /** Sandboxes ever created carrying this metadata value (ended ones too). */
    sandboxesTagged(key: string, value: string) {
      return control.sandboxes().filter((s) => s.metadata[key] === value);
    },
    creates: (): FakeCreate[] => creates.map((c) => ({ ...c })),
    requests: (): FakeRequest[] => requests.map((r) => ({ ...r })),
    /** Resolves once `n` sandboxes exist (counting ended ones), e.g. after a slow create. */
    async waitForSandboxes(n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (sandboxes.size < n) {
        if (Date.now() > deadline) throw new Error(`e2b fake: ${sandboxes.size} sandboxes, wanted ${n}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    reset() {
      faults = [];
      sandboxes.clear();
      creates.length = 0;
      requests.length = 0;
      createTimes.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      config = { ...defaultFakeConfig(), ...opts.config };
    },
  };

  function handleControl(method: string, path: string, body: unknown): Reply {
    if (method === "GET" && path === "/_fake/health") return new Reply(200, { ok: true });
    if (method === "POST" && path === "/_fake/faults") {
      const list = Array.isArray(body) ? body : [body];
      for (const f of list) if (!isFault(f)) return errorReply(400, "a fault needs op (create|get|kill|set_timeout|list) and status or slowCreate");
      control.inject(...(list as FakeFault[]));
      return new Reply(204, null);
    }
    if (method === "DELETE" && path === "/_fake/faults") {
      control.clearFaults();
      return new Reply(204, null);
    }
    if (method === "GET" && path === "/_fake/config") return new Reply(200, config);
    if (method === "POST" && path === "/_fake/config") return new Reply(200, control.configure((body ?? {}) as Partial<FakeConfig>));
    if (method === "GET" && path === "/_fake/sandboxes") return new Reply(200, control.sandboxes());
    if (method === "GET" && path === "/_fake/creates") return new Reply(200, control.creates());
    if (method === "GET" && path === "/_fake/requests") return new Reply(200, control.requests());
    if (method === "POST" && path === "/_fake/reset") {
      control.reset();
      return new Reply(204, null);
    }
    const m = /^\/_fake\/sandboxes\/([a-z0-9]+)\/end$/.exec(path);
    if (method === "POST" && m) {
      const at = (body as { at?: string } | null)?.at;
      return control.endEarly(m[1]!, at ? Date.parse(at) : undefined) ? new Reply(204, null) : errorReply(404, "no such live sandbox");
    }
    return errorReply(404, `no control route ${method} ${path}`);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "http://fake");
        const method = req.method ?? "GET";
        let body: unknown = null;
        if (chunks.length > 0) {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            send(res, errorReply(400, "request body is not valid JSON"));
            return;
          }
        }
        if (url.pathname.startsWith("/_fake/")) {
          send(res, handleControl(method, url.pathname, body));
          return;
        }
        expire();
        const owner = authorise(req);
        let reply: Reply | null;
        if (owner instanceof Reply) reply = owner;
        else reply = await route(req, url, owner, body, res);
        requests.push({ method, path: url.pathname, status: reply?.status ?? 0, at: now() });
        if (reply) send(res, reply);
      })().catch((err: Error) => {
        if (!res.headersSent) send(res, errorReply(500, `fake error: ${err.message}`));
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== "0.0.0.0" ? opts.host : "127.0.0.1";

  return {
    url: `http://${host}:${port}`,
    port,
    ...control,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: http.ServerResponse, reply: Reply) {
  const headers: Record<string, string> = { ...reply.headers };
  let payload = "";
  if (reply.body !== null && reply.status !== 204) {
    payload = JSON.stringify(reply.body);
    headers["Content-Type"] = "application/json";
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

function isFault(v: unknown): v is FakeFault {
  if (typeof v !== "object" || v === null) return false;
  const f = v as FakeFault;
  return ["create", "get", "kill", "set_timeout", "list"].includes(f.op) && (typeof f.status === "number" || (f.op === "create" && typeof f.slowCreate === "object"));
}
