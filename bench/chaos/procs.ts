/**
 * Child processes for the chaos suite and the multi-worker test: private redis-servers (that
 * may be flushed, killed and restarted on the same port) and standalone worker processes
 * (`jobs/worker-main.ts`) that are SIGKILLed or SIGTERMed and started again.
 *
 * Every child is the leader of its own process group (detached) and is signalled as a group,
 * so nothing it forks survives it. Nothing here touches the shared Redis on 6379.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (!child.pid) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

const started = new Set<ChildProcess>();
/** Last resort if the driver dies: no child outlives it. */
process.on("exit", () => {
  for (const c of started) signalGroup(c, "SIGKILL");
});

function spawnGroup(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile?: string }) {
  const out = opts.logFile ? fs.openSync(opts.logFile, "a") : "ignore";
  const child = spawn(cmd, args, { cwd: ROOT, env: opts.env ?? process.env, detached: true, stdio: ["ignore", out, out] });
  if (typeof out === "number") fs.closeSync(out);
  started.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once("exit", (code, signal) => {
      started.delete(child);
      resolve({ code, signal, at: Date.now() });
    });
    child.once("error", () => {
      started.delete(child);
      resolve({ code: 127, signal: null, at: Date.now() });
    });
  });
  return { child, exited };
}

async function until(what: string, fn: () => Promise<boolean>, ms: number, everyMs = 50) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${ms} ms: ${what}`);
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
  });
}

export function hasRedisServer(): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => fs.existsSync(path.join(d, "redis-server")));
}

/**
 * A private, non-persistent redis-server on its own port. `restart()` kills it (SIGKILL, so
 * everything in it is gone, as with a crashed Redis without persistence) and starts a new one
 * on the same port.
 */
export class PrivateRedis {
  private proc: ReturnType<typeof spawnGroup> | null = null;
  private readonly dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "sbx-redis-"));
  private constructor(readonly port: number, private readonly hz: number, private readonly logFile?: string) {}

  static async start(opts: { hz?: number; logFile?: string } = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts.hz ?? 10, opts.logFile);
    await r.launch();
    return r;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async launch() {
    // prettier-ignore
    const args = [
      "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--maxmemory-policy", "noeviction", "--hz", String(this.hz), "--daemonize", "no", "--loglevel", "warning",
      "--dir", this.dir,
    ];
    this.proc = spawnGroup("redis-server", args, { logFile: this.logFile });
    let dead = false;
    void this.proc.exited.then(() => (dead = true));
    await until(`redis-server on ${this.port}`, async () => {
      if (dead) throw new Error(`redis-server on port ${this.port} exited at start`);
      return pingRedis(this.port);
    }, 15_000);
  }

  /** Kills the server and starts an empty one on the same port; returns how long it was down. */
  async restart(): Promise<{ downMs: number }> {
    const t0 = Date.now();
    await this.stop();
    await this.launch();
    return { downMs: Date.now() - t0 };
  }

  async stop() {
    const p = this.proc;
    this.proc = null;
    if (!p) return;
    signalGroup(p.child, "SIGKILL");
    await p.exited;
  }

  /** Stops it for good and removes its (empty) data directory. */
  async destroy() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export type WorkerExit = { code: number | null; signal: NodeJS.Signals | null; at: number };

/** One standalone worker process (`node --import tsx jobs/worker-main.ts`). */
export class WorkerProcess {
  child: ChildProcess;
  exited: Promise<WorkerExit>;
  startedAt = Date.now();
  readyAt: number | null = null;
  private constructor(
    readonly name: string,
    readonly healthPort: number,
    proc: ReturnType<typeof spawnGroup>,
  ) {
    this.child = proc.child;
    this.exited = proc.exited;
  }

  static async start(name: string, env: NodeJS.ProcessEnv, opts: { logFile?: string } = {}): Promise<WorkerProcess> {
    const healthPort = await freePort();
    const proc = spawnGroup(process.execPath, ["--import", "tsx", "jobs/worker-main.ts"], {
      env: { ...env, SANDBOXER_WORKER_NAME: name, SANDBOXER_WORKER_HEALTH_PORT: String(healthPort) },
      logFile: opts.logFile,
    });
    return new WorkerProcess(name, healthPort, proc);
  }

  /** Resolves once /readyz answers 200 (the worker took its schedulers and is taking jobs). */
  async waitReady(ms = 60_000) {
    let exit: WorkerExit | null = null;
    void this.exited.then((e) => (exit = e));
    await until(`worker ${this.name} ready`, async () => {
      if (exit) throw new Error(`worker ${this.name} exited before it was ready (code ${exit.code}, signal ${exit.signal})`);
      return (await this.get("/readyz").catch(() => null))?.status === 200;
    }, ms, 100);
    this.readyAt = Date.now();
  }

  get(pathname: string) {
    return fetch(`http://127.0.0.1:${this.healthPort}${pathname}`, { signal: AbortSignal.timeout(2_000) });
  }

  /** The worker's Prometheus counters `sandboxer_jobs_total` by name/outcome. */
  async jobCounts(): Promise<Record<string, number>> {
    const text = await (await this.get("/metrics")).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^sandboxer_jobs_total\{name="([^"]+)",outcome="([^"]+)"\} (\d+)/gm)) {
      out[`${m[1]}:${m[2]}`] = Number(m[3]);
    }
    return out;
  }

  kill(signal: NodeJS.Signals) {
    return signalGroup(this.child, signal);
  }
}
