/**
 * Next.js start-up hook. With embedded PGlite (no DATABASE_URL) only one process may open the
 * database, so `npm run up` sets SANDBOXER_EMBEDDED_WORKER=1 and the worker runs here, inside
 * the web process. With Postgres the worker is its own process.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.SANDBOXER_EMBEDDED_WORKER !== "1") return;
  const { startEmbeddedWorker } = await import("./jobs/embedded-worker");
  await startEmbeddedWorker();
}
