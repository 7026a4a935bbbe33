/**
 * Next.js start-up hook. With embedded PGlite (no DATABASE_URL) only one process may open the
 * database, so `npm run up` sets SANDBOXER_EMBEDDED_WORKER=1 and the worker runs here, inside
 * the web process. With Postgres the worker is its own process.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.SANDBOXER_EMBEDDED_WORKER !== "1") return;
  const { getRuntime } = await import("./server/runtime");
  const { startWorkers } = await import("./jobs/worker");
  const rt = await getRuntime();
  const workers = await startWorkers(rt);
  const stop = async () => {
    await workers.close();
    await rt.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
}
