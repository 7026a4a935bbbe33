import { dbTargetFromEnv, migrateDb, openDb } from "./client";
import { loadEnv } from "../server/env";

/** `npm run migrate`: applies every migration to DATABASE_URL, or to the embedded PGlite in .data/. */
async function main() {
  const env = loadEnv();
  const target = dbTargetFromEnv(env);
  const handle = await openDb(target);
  await migrateDb(handle);
  await handle.close();
  console.log(`migrations applied (${target.kind === "postgres" ? "Postgres" : `PGlite at ${target.dataDir}`})`);
}

main().catch((err) => {
  console.error(`migration failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
