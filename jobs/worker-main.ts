import { getRuntime } from "../server/runtime";
import { startWorkers } from "./worker";

/** Entry point of a standalone worker process (`npm run worker`). */
async function main() {
  const rt = await getRuntime();
  const workers = await startWorkers(rt);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    rt.logger.info({ signal }, "worker stopping");
    // worker.close() waits for jobs in flight to finish, so none is left stuck active.
    await workers.close();
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
