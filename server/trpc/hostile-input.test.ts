import { Writable } from "node:stream";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, serializeError } from "../logger";
import { createApiKey, createTeam, createUser, setMembership } from "../services/teams";
import { createTestRuntime, openTestDb, type TestRuntime } from "../testing/harness";
import { createContext } from "./context";
import { appRouter } from "./root";

/**
 * Input a hostile caller sends over HTTP: every refusal is a 400 naming the field, never an
 * internal error, and the caller's text is never echoed raw.
 */
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
const keys: Record<string, string> = {};

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
  const owner = await createUser(rt, {
    email: "owner@h.test",
    password: "password-owner",
    name: "Owner",
  });
  const team = await createTeam(rt, { ownerId: owner, name: "Team H", creditsMicros: 10_000_000n });
  keys.owner = (await createApiKey(rt, { userId: owner, teamId: team, name: "owner" })).key;
  const finance = await createUser(rt, {
    email: "finance@h.test",
    password: "password-finance",
    name: "Fin",
  });
  await setMembership(rt, { teamId: team, userId: finance, role: "finance" });
  keys.finance = (await createApiKey(rt, { userId: finance, teamId: team, name: "finance" })).key;
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

type Reply = { status: number; message?: string; field?: string | null; requestId?: string | null };

async function call(
  path: string,
  input: unknown,
  opts: {
    who?: string;
    mutation?: boolean;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers = {
    authorization: `Bearer ${keys[opts.who ?? "owner"]}`,
    "content-type": "application/json",
    ...opts.headers,
  };
  const url = `http://api.test/api/trpc/${path}`;
  const req = opts.mutation
    ? new Request(url, { method: "POST", headers, body: opts.rawBody ?? JSON.stringify(input) })
    : new Request(`${url}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
  const res = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: ({ req }) => createContext({ headers: req.headers, rt }),
  });
  const body = (await res.json()) as {
    error?: { message: string; data: { field: string | null; requestId: string | null } };
  };
  return {
    status: res.status,
    message: body.error?.message,
    field: body.error?.data.field,
    requestId: body.error?.data.requestId,
  };
}

describe("NUL characters", () => {
  it.each([
    ["sandboxes.list", { profile: "burst\u0000" }, false, "profile"],
    ["sandboxes.list", { cursor: "\u0000" }, false, "cursor"],
    ["credits.topUp", { amount: "1", idempotencyKey: "key-\u0000-123456" }, true, "idempotencyKey"],
    [
      "credits.topUp",
      { amount: "1", idempotencyKey: "key-12345678", note: "a\u0000b" },
      true,
      "note",
    ],
    ["credits.ledger", { cursor: "\u0000" }, false, "cursor"],
    ["usage.list", { extension: "ext\u0000" }, false, "extension"],
    ["apiKeys.create", { name: "ci\u0000" }, true, "name"],
    ["apiKeys.revoke", { id: "\u0000" }, true, "id"],
    ["teams.members.setRole", { memberId: "m\u0000", role: "member" }, true, "memberId"],
    [
      "sandboxes.create",
      { profile: "burst-sandbox", ttlSeconds: 60, extra: { deep: ["ok", "x\u0000"] } },
      true,
      "extra.deep.1",
    ],
  ])("%s %j is a 400 naming the field", async (path, input, mutation, field) => {
    const r = await call(path, input, { mutation });
    expect(r).toMatchObject({ status: 400, field });
    expect(r.message).toBe(`${field}: must not contain NUL characters`);
  });

  it("records nothing for a refused top-up", async () => {
    const before = await call("credits.ledger", {});
    await call(
      "credits.topUp",
      { amount: "5", idempotencyKey: "nul-topup-1", note: "\u0000" },
      { mutation: true },
    );
    expect(await call("credits.ledger", {})).toEqual(before);
  });
});

describe("dates outside what the ledger keeps", () => {
  it.each([
    ["usage.list", { from: "0000-01-01" }, false, "from"],
    ["usage.list", { from: "1969-12-31T23:59:59Z" }, false, "from"],
    ["usage.list", { from: "9999-12-31T00:00:01Z" }, false, "from"],
    ["usage.list", { to: "9999-12-31" }, false, "to"],
    ["usage.export", { format: "csv", from: "0000-01-01" }, true, "from"],
    ["usage.export", { format: "focus", to: "0000-06-01" }, true, "to"],
  ])("%s %j is a 400 naming the field", async (path, input, mutation, field) => {
    const r = await call(path, input, { who: "finance", mutation });
    expect(r).toMatchObject({ status: 400, field });
    expect(r.message).toMatch(/outside the dates Sandboxer keeps \(1970-01-01 to 9999-12-30\)/);
  });

  it("answers at both ends of the range", async () => {
    expect(
      (await call("usage.list", { from: "1970-01-01", to: "9999-12-30" }, { who: "finance" }))
        .status,
    ).toBe(200);
    // Exports take at most about three years at a time.
    for (const range of [
      { from: "1970-01-01", to: "1970-02-01" },
      { from: "9999-11-01", to: "9999-12-30" },
    ]) {
      const exp = await call(
        "usage.export",
        { format: "csv", ...range },
        { who: "finance", mutation: true },
      );
      expect(exp, JSON.stringify(exp)).toMatchObject({ status: 200 });
    }
  });
});

describe("names that would lie on a screen", () => {
  it.each([
    ["teams.create", { name: "\u001b[2Jctl\u0007" }],
    ["teams.create", { name: "line\nbreak" }],
    ["teams.create", { name: "evil\u202egnp.exe" }],
    ["apiKeys.create", { name: "\u009b31m" }],
    [
      "credits.topUp",
      { amount: "1", idempotencyKey: "ctl-note-123", note: "\u001b]8;;http://evil/\u0007" },
    ],
  ])("%s %j is refused, naming the field", async (path, input) => {
    const r = await call(path, input, { mutation: true });
    expect(r.status).toBe(400);
    expect(r.message).toMatch(/must not contain control characters/);
  });

  it("while ordinary non-ASCII names are fine", async () => {
    expect(
      (await call("teams.create", { name: "Équipe 東京 — ünïcode" }, { mutation: true })).status,
    ).toBe(200);
  });
});

describe("the request itself", () => {
  it("a body that is not JSON is refused with a plain message, not the parser's", async () => {
    const r = await call("credits.topUp", null, { mutation: true, rawBody: '{"amount": 1,' });
    expect(r.status).toBe(400);
    expect(r.message).toBe("the request body is not valid JSON");
  });

  it("a caller's request id is echoed only when it is a plain token", async () => {
    const plain = await call(
      "sandboxes.get",
      { id: "sbx_nothere" },
      { headers: { "x-request-id": "trace-42.a:b" } },
    );
    expect(plain.requestId).toBe("trace-42.a:b");
    const hostile = await call(
      "sandboxes.get",
      { id: "sbx_nothere" },
      { headers: { "x-request-id": "<script>alert(1)</script>" } },
    );
    expect(hostile.requestId).not.toContain("<");
    expect(hostile.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("logged database errors", () => {
  it("keep the statement but not its parameters", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "error",
      destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }),
    });
    // A Drizzle query error built the way Drizzle builds it, with a parameter that must not leak.
    const { DrizzleQueryError } = await import("drizzle-orm/errors");
    const failed = new DrizzleQueryError(
      "insert into apikey (key) values ($1)",
      ["hash-of-a-key-SENTINEL"],
      new Error("boom"),
    );
    logger.error({ err: failed }, "request failed");
    const text = lines.join("");
    expect(text).toContain("insert into apikey");
    expect(text).not.toContain("SENTINEL");
    expect(JSON.stringify(serializeError(failed))).not.toContain("SENTINEL");
  });
});
