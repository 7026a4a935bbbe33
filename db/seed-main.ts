import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { createRuntime } from "../server/runtime";
import { createApiKey, createTeam, createUser, findUserId } from "../server/services/teams";

const ADMIN_EMAIL = "admin@sandboxer.local";
const DEMO_CREDITS_MICROS = 100_000_000n; // $100

/**
 * `npm run seed`: a demo team with $100 of credits, an admin (owner) user and an API key.
 * The password and key are printed once and written to .data/demo-credentials.txt (mode 0600,
 * git-ignored); only hashes reach the database. Re-running changes nothing.
 */
async function main() {
  const rt = await createRuntime();
  try {
    const file = path.resolve(rt.env.SANDBOXER_DATA_DIR, "demo-credentials.txt");
    if (await findUserId(rt, ADMIN_EMAIL)) {
      console.log(`demo team already seeded; its credentials are in ${path.relative(process.cwd(), file)}`);
      return;
    }
    const password = randomBytes(9).toString("base64url");
    const userId = await createUser(rt, { email: ADMIN_EMAIL, password, name: "Demo Admin" });
    const teamId = await createTeam(rt, { ownerId: userId, name: "Demo team", creditsMicros: DEMO_CREDITS_MICROS });
    const { key } = await createApiKey(rt, { userId, teamId, name: "demo-cli" });
    const text = [
      `console:  ${rt.env.SANDBOXER_URL}`,
      `email:    ${ADMIN_EMAIL}`,
      `password: ${password}`,
      `api key:  ${key}`,
      "",
      `export SANDBOXER_URL=${rt.env.SANDBOXER_URL}`,
      `export SANDBOXER_API_KEY=${key}`,
      "",
    ].join("\n");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode: 0o600 });
    console.log(`seeded "Demo team" with $100.00 of credits and an owner account:\n\n${text}\n(also saved to ${path.relative(process.cwd(), file)}; shown this once)`);
  } finally {
    await rt.close();
  }
}

main().catch((err) => {
  console.error(`seed failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
