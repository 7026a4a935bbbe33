import path from "node:path";
import { createRuntime } from "../server/runtime";
import { dbTargetFromEnv } from "./client";
import { databaseLabel, seedDemo } from "./seed-demo";

/** `npm run seed`: see seedDemo (db/seed-demo.ts). */
async function main() {
  const rt = await createRuntime();
  try {
    const file = path.resolve(rt.env.SANDBOXER_DATA_DIR, "demo-credentials.txt");
    console.log(await seedDemo(rt, { file, label: databaseLabel(dbTargetFromEnv(rt.env)) }));
  } finally {
    await rt.close();
  }
}

main().catch((err) => {
  console.error(`seed failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
