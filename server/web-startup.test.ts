/**
 * The web process refuses to start on a bad configuration, naming it (instrumentation.ts), as the
 * worker does: a malformed SANDBOXER_FIN_HUB_URL, a short fin-hub secret, a Redis that evicts keys.
 * It used to listen and serve pages anyway, with /api/health answering 503 "see the server log"
 * and nothing in the log.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { register } from "../instrumentation";

const RUNTIME_KEY = Symbol.for("sandboxer.runtime");
const saved = { ...process.env };
let exit: ReturnType<typeof vi.spyOn>;
let stderr: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
  stderr = vi.spyOn(console, "error").mockImplementation(() => undefined);
  delete (globalThis as Record<symbol, unknown>)[RUNTIME_KEY];
  process.env.NEXT_RUNTIME = "nodejs";
  delete process.env.NEXT_PHASE;
  process.env.SANDBOXER_EMBEDDED_WORKER = "0";
  process.env.DATABASE_URL = "postgres://postgres@127.0.0.1:1/never-opened";
});
afterEach(async () => {
  const rt = (globalThis as Record<symbol, Promise<{ close: () => Promise<void> }> | undefined>)[RUNTIME_KEY];
  delete (globalThis as Record<symbol, unknown>)[RUNTIME_KEY];
  await rt?.then((r) => r.close()).catch(() => undefined);
  process.env = { ...saved };
  vi.restoreAllMocks();
});

async function startAndWaitForExit() {
  await register();
  await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(1), { timeout: 15_000 });
  return stderr.mock.calls.map((c: unknown[]) => String(c[0])).join("\n");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe("web start-up", () => {
  it("stops with exit 1 naming a malformed fin-hub URL or a short secret", async () => {
    process.env.SANDBOXER_FIN_HUB_URL = "fin-hub.example.com/batches";
    process.env.SANDBOXER_FIN_HUB_SECRET = "too-short";
    const text = await startAndWaitForExit();
    expect(text).toMatch(/^web: cannot start: invalid environment/);
    expect(text).toContain("SANDBOXER_FIN_HUB_URL: must be an http:// or https:// URL");
    expect(text).toContain("SANDBOXER_FIN_HUB_SECRET: must be at least 32 characters");
  });

  it("stops with exit 1 on a Redis whose maxmemory-policy is not noeviction, saying how to fix it", async () => {
    const port = await freePort();
    // prettier-ignore
    const redis: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"], { stdio: "ignore" });
    try {
      await vi.waitFor(
        () =>
          new Promise<void>((resolve, reject) => {
            const s = net.createConnection({ host: "127.0.0.1", port }, () => (s.end(), resolve()));
            s.on("error", reject);
          }),
        { timeout: 10_000, interval: 100 },
      );
      process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
      const text = await startAndWaitForExit();
      expect(text).toContain('web: cannot start: Redis maxmemory-policy is "allkeys-lru"');
      expect(text).toContain("CONFIG SET maxmemory-policy noeviction");
    } finally {
      redis.kill("SIGKILL");
    }
  });

  it("does nothing while Next.js builds", async () => {
    process.env.NEXT_PHASE = "phase-production-build";
    process.env.SANDBOXER_FIN_HUB_URL = "ftp://nope";
    await register();
    await new Promise((r) => setTimeout(r, 200));
    expect(exit).not.toHaveBeenCalled();
  });
});
