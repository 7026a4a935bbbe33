import { getRuntime } from "../server/runtime";
import { startWorkers } from "./worker";

/** Runs the worker inside the web process (embedded PGlite mode); stops it on SIGTERM/SIGINT. */
export async function startEmbeddedWorker() {
  const rt = await getRuntime();
  const workers = await startWorkers(rt);
  const stop = async () => {
    // Finish jobs in flight before the process exits, so none is left stuck active.
    await workers.close();
    await rt.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
}
