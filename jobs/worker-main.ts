import http from "node:http";
import { checkReadiness } from "../server/health";
import { metricsAllowed, metricsText } from "../server/metrics";
import { getRuntime, type Runtime } from "../server/runtime";
import { startWorkers } from "./worker";

/** Liveness, readiness and metrics of a standalone worker, on SANDBOXER_WORKER_HEALTH_PORT. */
function startHealthServer(rt: Runtime, port: number) {
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    try {
      if (req.url === "/livez") return send(200, JSON.stringify({ ok: true }));
      if (req.url === "/readyz") {
        const r = await checkReadiness(rt);
        return send(r.ok ? 200 : 503, JSON.stringify(r));
      }
      if (req.url === "/metrics") {
        if (!metricsAllowed(req.headers.authorization, rt.env.SANDBOXER_METRICS_TOKEN)) {
          res.setHeader("www-authenticate", "Bearer");
          return send(401, JSON.stringify({ error: "metrics need Authorization: Bearer <SANDBOXER_METRICS_TOKEN>" }));
        }
        const m = await metricsText(rt);
        return send(200, m.body, m.contentType);
      }
      send(404, JSON.stringify({ error: "not found" }));
    } catch {
      send(500, JSON.stringify({ ok: false }));
    }
  });
  server.listen(port, rt.env.SANDBOXER_WORKER_HEALTH_HOST);
  return server;
}

/** Entry point of a standalone worker process (`npm run worker`). */
async function main() {
  const rt = await getRuntime();
  const workers = await startWorkers(rt);
  // Validated with the rest of the environment (server/env.ts): a typo stops start-up, named,
  // instead of no health server (NaN port) or no grace at all (NaN ms).
  const port = rt.env.SANDBOXER_WORKER_HEALTH_PORT;
  const health = port > 0 ? startHealthServer(rt, port) : null;
  const graceMs = rt.env.SANDBOXER_SHUTDOWN_GRACE_MS;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    rt.logger.info({ signal, graceMs }, "worker stopping");
    health?.close();
    await workers.close(graceMs);
    await rt.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
