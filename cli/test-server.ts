/**
 * A real Sandboxer API on a real HTTP port for the CLI's integration tests: the production
 * tRPC router and context over `node:http`, a test runtime (harness DB, real Redis with its own
 * key prefix, stub latency 0) and a real BullMQ worker. Not used by the product.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { startWorkers, type StartedWorkers } from "../jobs/worker";
import { createTestRuntime, openTestDb, type TestRuntime } from "../server/testing/harness";
import { createApiKey, createTeam, createUser } from "../server/services/teams";
import { createContext } from "../server/trpc/context";
import { appRouter } from "../server/trpc/root";

export type TestServer = {
  url: string;
  rt: TestRuntime;
  /** A user owning a new team funded with `creditsMicros`, and an API key for it. */
  seedTeam: (name: string, creditsMicros: bigint) => Promise<{ userId: string; teamId: string; apiKey: string }>;
  close: () => Promise<void>;
};

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** `processEnv` is laid over the defaults, e.g. to point ext.e2b at the local E2B fake with a key. */
export async function startTestServer(opts: { processEnv?: Record<string, string> } = {}): Promise<TestServer> {
  // Better Auth needs a secret; a fixed test value (≥ 32 characters) unless one is set.
  process.env.BETTER_AUTH_SECRET ??= "cli-integration-test-secret-0123456789abcdef";
  const db = await openTestDb();
  const rt = await createTestRuntime(db, {
    // Real providers must never be reached from tests, whatever the developer's shell holds.
    processEnv: { ...process.env, E2B_API_KEY: "", MODAL_TOKEN_ID: "", MODAL_TOKEN_SECRET: "", SANDBOXER_STUB_FAIL_RATE: "0", ...opts.processEnv },
  });
  let workers: StartedWorkers | null = null;
  let server: http.Server | null = null;
  try {
    workers = await startWorkers(rt, { sweepEveryMs: 1_000 });
    const handler = createHTTPHandler({
      router: appRouter,
      basePath: "/api/trpc/",
      createContext: ({ req }) => createContext({ headers: toHeaders(req.headers), rt }),
    });
    server = http.createServer((req, res) => {
      if (!req.url?.startsWith("/api/trpc/")) {
        res.statusCode = 404;
        res.end("not found");
        return;
      }
      handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(0, "127.0.0.1", () => resolve());
    });
  } catch (err) {
    await workers?.close();
    await rt.cleanup();
    await db.drop();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const srv = server;
  const w = workers;
  let n = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    rt,
    seedTeam: async (name, creditsMicros) => {
      n += 1;
      const userId = await createUser(rt, { email: `cli-${n}-${Date.now()}@example.test`, password: "correct-horse-battery", name });
      const teamId = await createTeam(rt, { ownerId: userId, name, creditsMicros });
      const { key } = await createApiKey(rt, { userId, teamId, name: `${name} key` });
      return { userId, teamId, apiKey: key };
    },
    close: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      await w.close();
      await rt.cleanup();
      await db.drop();
    },
  };
}
