import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Runtime } from "../server/runtime";
import { createApiKey, createTeam, createUser, findUserId } from "../server/services/teams";
import type { DbTarget } from "./client";

export const ADMIN_EMAIL = "admin@sandboxer.local";
const DEMO_CREDITS_MICROS = 100_000_000n; // $100

/** Which database a credentials file belongs to, without a password: "PGlite at …", "Postgres …". */
export function databaseLabel(target: DbTarget): string {
  if (target.kind === "pglite") return `PGlite at ${target.dataDir ?? "(in memory)"}`;
  try {
    const u = new URL(target.url);
    return `Postgres ${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "Postgres (DATABASE_URL)";
  }
}

/** A path as people read it: relative to where they ran the command when it is inside it. */
function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

const labelOf = (text: string) => /^database: (.*)$/m.exec(text)?.[1] ?? null;

/** The credentials files in `dir` (current and set aside) that name `label`. */
function filesFor(dir: string, label: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => /^demo-credentials(\..+)?\.txt$/.test(n));
  } catch {
    return [];
  }
  return names.map((n) => path.join(dir, n)).filter((f) => labelOf(fs.readFileSync(f, "utf8")) === label);
}

/**
 * `npm run seed`: a demo team with $100 of credits, an admin (owner) user and an API key, in the
 * database `label` names. The password and key are printed once and written to `file` (mode
 * 0600, git-ignored); only hashes reach the database. Re-running changes nothing.
 *
 * The file is the only copy of them. A data folder can serve several databases in turn (PGlite,
 * then DATABASE_URL, then PGlite again), so a file holding another database's credentials is
 * set aside as demo-credentials.<time>.txt, never overwritten, and an already-seeded database
 * says which file holds its own. Returns what to print.
 */
export async function seedDemo(rt: Runtime, opts: { file: string; label: string; now?: Date }): Promise<string> {
  const { file, label } = opts;
  const shown = shownPath(file);
  if (await findUserId(rt, ADMIN_EMAIL)) {
    const current = fs.existsSync(file) ? labelOf(fs.readFileSync(file, "utf8")) : null;
    // Files written before the label existed cannot be told apart: they are taken as this database's.
    if (current === label || (fs.existsSync(file) && current === null)) return `demo team already seeded; its credentials are in ${shown}`;
    const found = filesFor(path.dirname(file), label).map(shownPath);
    return found.length
      ? `demo team already seeded; its credentials are in ${found.join(", ")} (${shown} holds ${current ?? "another database"}'s)`
      : `demo team already seeded, but no credentials file here names ${label}; sign in with an account you made, or reset that database`;
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
  let setAside = "";
  if (fs.existsSync(file)) {
    const stamp = (opts.now ?? new Date()).toISOString().replace(/[:.]/g, "-");
    const aside = path.join(path.dirname(file), `demo-credentials.${stamp}.txt`);
    fs.renameSync(file, aside);
    const was = labelOf(fs.readFileSync(aside, "utf8"));
    setAside = `\nthe previous ${path.basename(file)}${was ? ` (${was})` : ""} was kept as ${shownPath(aside)}\n`;
  }
  fs.writeFileSync(file, `${text}\ndatabase: ${label}\n`, { mode: 0o600 });
  return `seeded "Demo team" with $100.00 of credits and an owner account:\n\n${text}\n(also saved to ${shown}; shown this once)${setAside}`;
}
