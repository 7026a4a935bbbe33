/** The Node.js half of instrumentation.ts: builds the runtime (or the embedded worker) at start. */
export async function registerNode() {
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
