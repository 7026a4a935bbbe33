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
  // Node-only code lives in its own module, imported only on the Node.js runtime, so the Edge
  // build of this file never sees process.exit and friends.
  if (process.env.NEXT_RUNTIME === "nodejs") await (await import("./instrumentation-node")).registerNode();
}
