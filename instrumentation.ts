/**
 * Next.js start-up hook. With embedded PGlite (no DATABASE_URL) only one process may open the
 * database, so `npm run up` sets SANDBOXER_EMBEDDED_WORKER=1 and the worker runs here, inside
 * the web process. With Postgres the worker is its own process.
 *
 * Either way the process's runtime is built as it starts, so a bad environment (a malformed
 * SANDBOXER_FIN_HUB_URL, a short secret, …) or a Redis that evicts keys stops the web process
 * with the reason on stderr and exit 1 — as the worker does — instead of a server that serves
 * pages while /api/health answers 503 "see the server log" with nothing in the log.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // `next build` may load this file; the runtime is for a running server only.
  if (process.env.NEXT_PHASE === "phase-production-build") return;
  const cannotStart = (err: unknown) => {
    console.error(`web: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  };
  if (process.env.SANDBOXER_EMBEDDED_WORKER === "1") {
    const { startEmbeddedWorker } = await import("./jobs/embedded-worker");
    await startEmbeddedWorker().catch(cannotStart);
    return;
  }
  // Not awaited: a Redis or Postgres that is not up yet must not keep the server from listening
  // (/api/health/live answers, /api/health says what is missing); a bad configuration fails at
  // once, before any connection is needed.
  const { getRuntime } = await import("./server/runtime");
  void getRuntime().catch(cannotStart);
}
