import fs from "node:fs";
import path from "node:path";

/**
 * Test data made the way a person or program would make it: over HTTP, through Better Auth's
 * sign-up endpoint and the console's own tRPC procedures (teams.create, teams.members.add,
 * credits.topUp). Nothing here opens the database, which the server holds open (PGlite).
 *
 * Each user's session cookie is saved as a Playwright storage state, so specs start signed in
 * without signing in again: Better Auth allows 3 sign-ins per 10 s per client in production,
 * and a test suite is one client.
 */

export type SeedUser = { key: string; email: string; password: string; name: string };
export const PASSWORD = "correct-horse-battery";
export const AUTH_DIR = path.join("test-results", "e2e-auth");

export const users = {
  ownerA: { key: "ownerA", email: "owner-a@e2e.test", password: PASSWORD, name: "Olivia Owner" },
  memberA: { key: "memberA", email: "member-a@e2e.test", password: PASSWORD, name: "Max Member" },
  financeA: {
    key: "financeA",
    email: "finance-a@e2e.test",
    password: PASSWORD,
    name: "Fiona Finance",
  },
  ownerB: { key: "ownerB", email: "owner-b@e2e.test", password: PASSWORD, name: "Bruno Other" },
} satisfies Record<string, SeedUser>;

export const storageStateOf = (u: SeedUser) => path.join(AUTH_DIR, `${u.key}.json`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST to Better Auth, waiting out a 429 as a polite client would (it says how long). */
export async function authPost(baseURL: string, route: string, body: unknown): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${baseURL}/api/auth/${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: baseURL },
      body: JSON.stringify(body),
    });
    if (res.status !== 429 || attempt >= 3) return res;
    const wait = Number(res.headers.get("x-retry-after") ?? res.headers.get("retry-after") ?? 10);
    await sleep(Math.min(Math.max(wait, 1), 15) * 1000 + 250);
  }
}

class Session {
  constructor(
    private baseURL: string,
    readonly cookies: { name: string; value: string }[],
  ) {}

  async trpc<T>(procedure: string, input: unknown): Promise<T> {
    const res = await fetch(`${this.baseURL}/api/trpc/${procedure}`, {
      method: "POST",
      headers: {
        cookie: this.cookies.map((c) => `${c.name}=${c.value}`).join("; "),
        "content-type": "application/json",
      },
      body: JSON.stringify(input),
    });
    const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
    if (!res.ok || !body.result)
      throw new Error(`${procedure} failed (${res.status}): ${body.error?.message ?? "no result"}`);
    return body.result.data;
  }

  saveStorageState(u: SeedUser) {
    const { hostname } = new URL(this.baseURL);
    const cookies = this.cookies.map((c) => ({
      ...c,
      domain: hostname,
      path: "/",
      expires: -1,
      httpOnly: true,
      secure: false,
      sameSite: "Lax" as const,
    }));
    fs.mkdirSync(AUTH_DIR, { recursive: true });
    fs.writeFileSync(storageStateOf(u), JSON.stringify({ cookies, origins: [] }, null, 2));
  }
}

function sessionFrom(baseURL: string, res: Response): Session {
  const cookies = res.headers.getSetCookie().map((c) => {
    const [pair = ""] = c.split(";");
    const eq = pair.indexOf("=");
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1) };
  });
  return new Session(baseURL, cookies);
}

/** Signs up (or, on a reused server where the account exists, signs in) and saves the session. */
async function enrol(baseURL: string, u: SeedUser): Promise<{ session: Session; fresh: boolean }> {
  const res = await authPost(baseURL, "sign-up/email", {
    email: u.email,
    password: u.password,
    name: u.name,
  });
  if (res.ok) {
    const session = sessionFrom(baseURL, res);
    session.saveStorageState(u);
    return { session, fresh: true };
  }
  if (res.status !== 422)
    throw new Error(`sign-up of ${u.email} failed (${res.status}): ${await res.text()}`);
  const signIn = await authPost(baseURL, "sign-in/email", { email: u.email, password: u.password });
  if (!signIn.ok) throw new Error(`sign-in of ${u.email} failed (${signIn.status})`);
  const session = sessionFrom(baseURL, signIn);
  session.saveStorageState(u);
  return { session, fresh: false };
}

/** Team A (owner, member, finance; $50 of credits) and team B (its owner, plus A's owner). */
export async function seed(baseURL: string) {
  const ownerA = await enrol(baseURL, users.ownerA);
  await enrol(baseURL, users.memberA);
  await enrol(baseURL, users.financeA);
  const ownerB = await enrol(baseURL, users.ownerB);
  if (!ownerA.fresh) return; // a reused server, seeded by an earlier run

  const a = ownerA.session;
  await a.trpc("teams.create", { name: "Acme Research" });
  await a.trpc("teams.members.add", { email: users.memberA.email, role: "member" });
  await a.trpc("teams.members.add", { email: users.financeA.email, role: "finance" });
  await a.trpc("credits.topUp", {
    amount: "50",
    idempotencyKey: "e2e-initial-credits",
    note: "e2e seed",
  });
  const b = ownerB.session;
  await b.trpc("teams.create", { name: "Beta Labs" });
  await b.trpc("credits.topUp", {
    amount: "5",
    idempotencyKey: "e2e-initial-credits-b",
    note: "e2e seed",
  });
  // Team A's owner is also a member of team B, to exercise switching teams.
  await b.trpc("teams.members.add", { email: users.ownerA.email, role: "member" });
}
