import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageRecords } from "../../../db/schema";
import { usageRecordRow } from "../../testing/fixtures";
import { createTestRuntime, openTestDb, type TestRuntime } from "../../testing/harness";
import { startOpenBaoFake } from "../../testing/openbao-fake";
import { createApiKey, createTeam, createUser, setMembership } from "../../services/teams";
import { getAuth } from "../../auth/auth";
import { createContext } from "../context";
import { PAGE_TEAM_HEADER, TEAM_CHANGED_MESSAGE } from "../init";
import { appRouter, createCaller } from "../root";

/** The console's procedures: teams and members, API keys, registry, usage reports. */
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
const keys: Record<string, string> = {};
let teamA = "";
let teamB = "";
const SECRET = "e2b-secret-value-never-shown";
const TEAM_SECRET = "modal-team-secret-never-shown";
let bao: Awaited<ReturnType<typeof startOpenBaoFake>>;

beforeAll(async () => {
  dbHandle = await openTestDb();
  bao = await startOpenBaoFake({ token: "bao-token" });
  rt = await createTestRuntime(dbHandle, {
    processEnv: {
      E2B_API_KEY: SECRET,
      SANDBOXER_OPENBAO_ADDR: bao.url,
      SANDBOXER_OPENBAO_TOKEN: "bao-token",
      // These tests are about listing bindings; per-team path scoping is routing.test.ts's.
      SANDBOXER_BYOK_OPENBAO_PATH: "*",
    },
  });
  const owner = await createUser(rt, {
    email: "owner@a.test",
    password: "password-owner",
    name: "Owner A",
  });
  teamA = await createTeam(rt, { ownerId: owner, name: "Team A", creditsMicros: 10_000_000n });
  keys.owner = (await createApiKey(rt, { userId: owner, teamId: teamA, name: "owner" })).key;
  for (const role of ["admin", "member", "finance"] as const) {
    const id = await createUser(rt, {
      email: `${role}@a.test`,
      password: `password-${role}`,
      name: role,
    });
    await setMembership(rt, { teamId: teamA, userId: id, role });
    keys[role] = (await createApiKey(rt, { userId: id, teamId: teamA, name: role })).key;
  }
  await createUser(rt, { email: "newcomer@a.test", password: "password-new", name: "Newcomer" });
  const other = await createUser(rt, { email: "b@b.test", password: "password-b", name: "B" });
  teamB = await createTeam(rt, { ownerId: other, name: "Team B" });
  keys.other = (await createApiKey(rt, { userId: other, teamId: teamB, name: "b" })).key;
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
  await bao.close();
});

async function as(who: string) {
  const headers = new Headers({ authorization: `Bearer ${keys[who] ?? who}` });
  return createCaller(await createContext({ headers, rt }));
}
async function asWithPageTeam(who: string, pageTeam: string) {
  const headers = new Headers({ authorization: `Bearer ${keys[who]}`, [PAGE_TEAM_HEADER]: pageTeam });
  return createCaller(await createContext({ headers, rt }));
}
async function errorOf(p: Promise<unknown>): Promise<TRPCError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCError);
  return err as TRPCError;
}
const fieldOf = (e: TRPCError) =>
  (e.cause as { details?: { field?: string } } | undefined)?.details?.field;

describe("teams", () => {
  it("says who is calling and what their role may do", async () => {
    const finance = await (await as("finance")).teams.current();
    expect(finance.team?.name).toBe("Team A");
    expect(finance.can).toEqual({ manageSandboxes: false, admin: false });
    expect((await (await as("member")).teams.current()).can).toEqual({
      manageSandboxes: true,
      admin: false,
    });
    expect((await (await as("admin")).teams.current()).can).toEqual({
      manageSandboxes: true,
      admin: true,
    });
  });

  it("lets admins add, re-role and remove members, within the owner rules", async () => {
    const admin = await as("admin");
    const missing = await errorOf(
      admin.teams.members.add({ email: "nobody@a.test", role: "member" }),
    );
    expect([missing.code, fieldOf(missing)]).toEqual(["NOT_FOUND", "email"]);
    expect(
      (await errorOf(admin.teams.members.add({ email: "newcomer@a.test", role: "owner" }))).code,
    ).toBe("FORBIDDEN");
    await admin.teams.members.add({ email: "newcomer@a.test", role: "finance" });
    expect(
      (await errorOf(admin.teams.members.add({ email: "newcomer@a.test", role: "member" }))).code,
    ).toBe("CONFLICT");

    const members = await admin.teams.members.list();
    const newcomer = members.find((m) => m.email === "newcomer@a.test")!;
    expect(newcomer.role).toBe("finance");
    await admin.teams.members.setRole({ memberId: newcomer.id, role: "member" });
    const owner = members.find((m) => m.role === "owner")!;
    expect(
      (await errorOf(admin.teams.members.setRole({ memberId: owner.id, role: "member" }))).code,
    ).toBe("FORBIDDEN");
    // The last owner cannot step down, even by their own hand.
    const lastOwner = await errorOf(
      (await as("owner")).teams.members.setRole({ memberId: owner.id, role: "admin" }),
    );
    expect(lastOwner.code).toBe("CONFLICT");
    await admin.teams.members.remove({ memberId: newcomer.id });
    expect((await admin.teams.members.list()).some((m) => m.email === "newcomer@a.test")).toBe(
      false,
    );

    expect(
      (
        await errorOf(
          (await as("member")).teams.members.add({ email: "newcomer@a.test", role: "member" }),
        )
      ).code,
    ).toBe("FORBIDDEN");
    // Another team's member ids are not found from here.
    const bMember = (await (await as("other")).teams.members.list())[0]!;
    expect((await errorOf(admin.teams.members.remove({ memberId: bMember.id }))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("a tab that still shows another team", () => {
  it("is refused, not served the session's new active team under the old one's name", async () => {
    // One person in two teams, signed in once (one session, as every tab of a browser shares).
    const email = "two-teams@a.test";
    const person = await createUser(rt, { email, password: "password-two", name: "Two Teams" });
    await setMembership(rt, { teamId: teamA, userId: person, role: "admin" });
    await setMembership(rt, { teamId: teamB, userId: person, role: "admin" });
    const auth = getAuth(rt);
    const signedIn = await auth.api.signInEmail({
      body: { email, password: "password-two" },
      asResponse: true,
    });
    const cookie = signedIn.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const tab = async (pageTeam?: string) =>
      createCaller(
        await createContext({
          headers: new Headers(pageTeam ? { cookie, [PAGE_TEAM_HEADER]: pageTeam } : { cookie }),
          rt,
        }),
      );
    // Tab 1 loaded on team A; then tab 2 switched the session to team B.
    await auth.api.setActiveOrganization({
      headers: new Headers({ cookie }),
      body: { organizationId: teamB },
    });
    const before = await (await tab()).credits.balance();
    const stale = await tab(teamA);
    for (const call of [
      stale.credits.topUp({ amount: "3", idempotencyKey: "stale-tab-top-up" }),
      stale.credits.balance(),
      stale.apiKeys.create({ name: "stale tab" }),
    ]) {
      const err = await errorOf(call);
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toBe(TEAM_CHANGED_MESSAGE);
    }
    expect((await (await tab()).credits.balance()).balanceMicros).toBe(before.balanceMicros);
    // The tab that shows team B, and callers that send no page team (CLI, API), act as before.
    expect((await (await tab(teamB)).credits.topUp({ amount: "1", idempotencyKey: "tab-b-top-up" })).balanceMicros).toBe(
      (BigInt(before.balanceMicros) + 1_000_000n).toString(),
    );
    expect((await (await as("owner")).credits.balance()).currency).toBe("USD");
    // An API key's team decides for it; a page team that disagrees is refused the same way.
    expect((await errorOf((await asWithPageTeam("owner", teamB)).credits.balance())).code).toBe("CONFLICT");
    expect((await (await asWithPageTeam("owner", teamA)).credits.balance()).currency).toBe("USD");
  });
});

describe("owners", () => {
  it("two owners demoting each other at once leave exactly one owner", async () => {
    const ownerId = await createUser(rt, {
      email: "o1@race.test",
      password: "password-o1",
      name: "O1",
    });
    const team = await createTeam(rt, { ownerId, name: "Race team" });
    const secondId = await createUser(rt, {
      email: "o2@race.test",
      password: "password-o2",
      name: "O2",
    });
    await setMembership(rt, { teamId: team, userId: secondId, role: "owner" });
    const k1 = (await createApiKey(rt, { userId: ownerId, teamId: team, name: "o1" })).key;
    const k2 = (await createApiKey(rt, { userId: secondId, teamId: team, name: "o2" })).key;
    const [o1, o2] = [await as(k1), await as(k2)];
    const members = await o1.teams.members.list();
    const m1 = members.find((m) => m.email === "o1@race.test")!;
    const m2 = members.find((m) => m.email === "o2@race.test")!;
    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled([
        o1.teams.members.setRole({ memberId: m2.id, role: "admin" }),
        o2.teams.members.setRole({ memberId: m1.id, role: "admin" }),
      ]);
      const owners = (await o1.teams.members.list()).filter((m) => m.role === "owner");
      expect(owners).toHaveLength(1);
      // At most one demotion went through; the other was refused (no owner left to act, or the
      // last-owner rule), never both.
      expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
      // Make both owners again for the next round (the remaining owner promotes the other).
      const remaining = owners[0]!.email === "o1@race.test" ? o1 : o2;
      const demoted = owners[0]!.email === "o1@race.test" ? m2 : m1;
      await remaining.teams.members.setRole({ memberId: demoted.id, role: "owner" });
    }
  });
});

describe("API keys", () => {
  it("takes a name up to the 60 characters the form allows", async () => {
    const name = "github-actions-deploy-production-eu-west-1-and-then-some-more".slice(0, 60);
    expect(name).toHaveLength(60);
    const created = await (await as("member")).apiKeys.create({ name });
    expect((await (await as("member")).apiKeys.list()).some((k) => k.name === name)).toBe(true);
    await (await as("member")).apiKeys.revoke({ id: created.id });
    const tooLong = await errorOf((await as("member")).apiKeys.create({ name: `${name}x` }));
    expect(tooLong.code).toBe("BAD_REQUEST");
    expect(tooLong.message).toContain("at most 60 characters");
  });

  it("a removed member's keys go with them: adding them back does not revive an old key", async () => {
    const id = await createUser(rt, {
      email: "leaver@a.test",
      password: "password-leaver",
      name: "Leaver",
    });
    await setMembership(rt, { teamId: teamA, userId: id, role: "member" });
    const key = (await createApiKey(rt, { userId: id, teamId: teamA, name: "leaver's key" })).key;
    expect((await (await as(key)).teams.current()).role).toBe("member");
    const admin = await as("admin");
    const leaver = (await admin.teams.members.list()).find((m) => m.email === "leaver@a.test")!;
    await admin.teams.members.remove({ memberId: leaver.id });
    expect((await admin.apiKeys.list()).some((k) => k.name === "leaver's key")).toBe(false);
    await admin.teams.members.add({ email: "leaver@a.test", role: "finance" });
    expect((await errorOf((await as(key)).teams.current())).code).toBe("UNAUTHORIZED");
  });

  it("lists a key under a team only when its holder is a member, whatever its metadata says", async () => {
    const strangerId = await createUser(rt, {
      email: "stranger@c.test",
      password: "password-s",
      name: "S",
    });
    const teamC = await createTeam(rt, { ownerId: strangerId, name: "Team C" });
    // What a key created with another team's id in its metadata looks like (Better Auth's HTTP
    // endpoint would have allowed it; it is disabled now).
    await createApiKey(rt, { userId: strangerId, teamId: teamA, name: "planted by a stranger" });
    const names = (await (await as("admin")).apiKeys.list()).map((k) => k.name);
    expect(names).toContain("owner");
    expect(names).not.toContain("planted by a stranger");
    expect(teamC).toBeTruthy();
  });

  it("returns the key once, lists only its start, and scopes listing and revoking", async () => {
    const member = await as("member");
    const created = await member.apiKeys.create({ name: "ci" });
    expect(created.key).toMatch(/^sbxk_/);
    const mine = await member.apiKeys.list();
    // Enough of the start to tell keys apart, never the key.
    expect(mine.find((k) => k.name === "ci")?.start).toBe(created.key.slice(0, 12));
    expect(mine.map((k) => k.name).sort()).toEqual(["ci", "member"]);
    expect(JSON.stringify(mine)).not.toContain(created.key);

    const adminView = await (await as("admin")).apiKeys.list();
    expect(adminView.map((k) => k.name)).toEqual(
      expect.arrayContaining(["owner", "admin", "member", "finance", "ci"]),
    );
    expect(adminView.some((k) => k.name === "b")).toBe(false);

    const financeKey = adminView.find((k) => k.name === "finance")!;
    expect((await errorOf(member.apiKeys.revoke({ id: financeKey.id }))).code).toBe("NOT_FOUND");
    expect((await errorOf((await as("other")).apiKeys.revoke({ id: created.id }))).code).toBe(
      "NOT_FOUND",
    );

    expect((await (await as(created.key)).teams.current()).role).toBe("member");
    await (await as("admin")).apiKeys.revoke({ id: created.id });
    expect((await errorOf((await as(created.key)).teams.current())).code).toBe("UNAUTHORIZED");
  });
});

describe("registry", () => {
  it("says whether credentials resolve without ever returning their values", async () => {
    const registry = await (await as("finance")).registry.list();
    expect(JSON.stringify(registry)).not.toContain(SECRET);
    const e2b = registry.extensions.find((x) => x.id === "ext.e2b")!;
    expect(e2b.credentials).toEqual({ resolves: true, reason: null, source: "platform" });
    const modal = registry.extensions.find((x) => x.id === "ext.modal")!;
    expect(modal.credentials.resolves).toBe(false);
    expect(registry.profiles.map((p) => p.id)).toContain("profile.burst-sandbox");
  });

  it("is team-aware: a team's own keys resolve for that team only, and values never appear", async () => {
    bao.put("secret/a/modal", { id: "ak-team-a", secret: TEAM_SECRET });
    const admin = await as("admin");
    expect(await admin.credentials.schemes()).toEqual({ allowed: ["openbao"] });
    const refused = await errorOf(
      admin.credentials.bind({
        extensionId: "ext.modal",
        field: "token_id",
        secretRef: "env:HOME",
      }),
    );
    expect(refused.code).toBe("BAD_REQUEST");
    expect(fieldOf(refused)).toBe("secretRef");
    expect(
      (
        await errorOf(
          (await as("member")).credentials.bind({
            extensionId: "ext.modal",
            field: "token_id",
            secretRef: "openbao://secret/a/modal#id",
          }),
        )
      ).code,
    ).toBe("FORBIDDEN");

    await admin.credentials.bind({
      extensionId: "ext.modal",
      field: "token_id",
      secretRef: "openbao://secret/a/modal#id",
    });
    const half = (await (await as("finance")).registry.list()).extensions.find(
      (x) => x.id === "ext.modal",
    )!;
    // token_secret still falls back to the platform default, which is not set.
    expect(half.credentials).toMatchObject({ resolves: false, source: "team" });
    expect(half.credentials.reason).toMatch(/MODAL_TOKEN_SECRET is not set/);

    await admin.credentials.bind({
      extensionId: "ext.modal",
      field: "token_secret",
      secretRef: "openbao://secret/a/modal#secret",
    });
    const mine = await (await as("finance")).registry.list();
    const modal = mine.extensions.find((x) => x.id === "ext.modal")!;
    expect(modal.credentials).toEqual({ resolves: true, reason: null, source: "team" });
    expect(modal.credentialRefs).toEqual([
      { field: "token_id", ref: "env:MODAL_TOKEN_ID", teamRef: "openbao://secret/a/modal#id" },
      {
        field: "token_secret",
        ref: "env:MODAL_TOKEN_SECRET",
        teamRef: "openbao://secret/a/modal#secret",
      },
    ]);
    expect(JSON.stringify(mine)).not.toContain(TEAM_SECRET);
    expect(JSON.stringify(await (await as("member")).credentials.list())).not.toContain(
      TEAM_SECRET,
    );

    const theirs = (await (await as("other")).registry.list()).extensions.find(
      (x) => x.id === "ext.modal",
    )!;
    expect(theirs.credentials).toMatchObject({ resolves: false, source: "platform" });
    expect(theirs.credentialRefs.every((c) => c.teamRef === null)).toBe(true);

    await admin.credentials.remove({ extensionId: "ext.modal", field: "token_secret" });
    await admin.credentials.remove({ extensionId: "ext.modal", field: "token_id" });
  });
});

describe("usage summary", () => {
  const record = (
    teamId: string,
    n: number,
    endedAt: string,
    extensionId: string,
    costMicros: bigint,
    durationMs: number,
  ) =>
    usageRecordRow({
      teamId,
      key: n,
      endedAt,
      extensionId,
      profileId: "profile.burst-sandbox",
      costMicros,
      durationMs,
    });

  it("sums exactly by UTC day, extension and profile, for the caller's team only", async () => {
    await rt.db
      .insert(usageRecords)
      .values([
        record(teamA, 1, "2026-11-01T00:00:00.000Z", "ext.saas-stub", 1n, 1_000),
        record(teamA, 2, "2026-11-01T23:59:59.999Z", "ext.e2b", 9_007_199_254_740_993n, 3_600_000),
        record(teamA, 3, "2026-11-03T12:00:00.000Z", "ext.saas-stub", 250n, 7_200_000),
        record(teamA, 4, "2026-11-04T00:00:00.000Z", "ext.saas-stub", 999n, 1_000),
        record(teamB, 5, "2026-11-02T10:00:00.000Z", "ext.saas-stub", 777n, 1_000),
      ]);
    const s = await (
      await as("finance")
    ).reports.usageSummary({ from: "2026-11-01", to: "2026-11-03" });
    expect(s.totals).toEqual({ costMicros: "9007199254741244", durationMs: 10_801_000, count: 3 });
    expect(s.byDay).toEqual([
      { day: "2026-11-01", costMicros: "9007199254740994", durationMs: 3_601_000, count: 2 },
      { day: "2026-11-02", costMicros: "0", durationMs: 0, count: 0 },
      { day: "2026-11-03", costMicros: "250", durationMs: 7_200_000, count: 1 },
    ]);
    expect(s.byExtension.map((e) => [e.extensionId, e.costMicros])).toEqual([
      ["ext.e2b", "9007199254740993"],
      ["ext.saas-stub", "251"],
    ]);
    expect(s.byProfile).toEqual([
      {
        profileId: "profile.burst-sandbox",
        costMicros: "9007199254741244",
        durationMs: 10_801_000,
        count: 3,
      },
    ]);
  });

  it("names the field at fault for a bad range", async () => {
    const finance = await as("finance");
    const backwards = await errorOf(
      finance.reports.usageSummary({ from: "2026-11-05", to: "2026-11-01" }),
    );
    expect([backwards.code, fieldOf(backwards)]).toEqual(["BAD_REQUEST", "to"]);
    const tooLong = await errorOf(
      finance.reports.usageSummary({ from: "2024-01-01", to: "2026-11-01" }),
    );
    expect([tooLong.code, fieldOf(tooLong)]).toEqual(["BAD_REQUEST", "from"]);
  });

  /** What the console receives over HTTP (the error formatter applied), for a finance member. */
  async function overHttp(input: unknown) {
    const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    const res = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req: new Request(`http://console.test/api/trpc/reports.usageSummary${query}`, {
        headers: { authorization: `Bearer ${keys.finance}` },
      }),
      router: appRouter,
      createContext: ({ req }) => createContext({ headers: req.headers, rt }),
    });
    const body = (await res.json()) as {
      error?: { message: string; data: { field: string | null } };
    };
    return { status: res.status, message: body.error?.message, field: body.error?.data.field };
  }

  it.each([
    ["a missing end", { from: "2026-11-01" }, "to", /^to: must be a date such as 2026-12-01$/],
    ["a number", { from: 20261101, to: "2026-11-03" }, "from", /must be a date such as/],
    ["a short month", { from: "2026-11-1", to: "2026-11-03" }, "from", /must be a date such as/],
    [
      "a day February lacks",
      { from: "2026-02-30", to: "2026-03-03" },
      "from",
      /^2026-02-30 is not a calendar date$/,
    ],
    [
      "a day November lacks",
      { from: "2026-11-01", to: "2026-11-31" },
      "to",
      /^2026-11-31 is not a calendar date$/,
    ],
    [
      "year zero",
      { from: "0000-01-01", to: "0000-01-02" },
      "from",
      /^must be between 1970-01-01 and 9999-12-31$/,
    ],
    [
      "an end before the start",
      { from: "2026-11-05", to: "2026-11-01" },
      "to",
      /^the end date 2026-11-01 is before the start date 2026-11-05$/,
    ],
  ])("says which field is wrong and why for %s", async (_, input, field, message) => {
    const got = await overHttp(input);
    expect(got.status).toBe(400);
    expect(got.field).toBe(field);
    expect(got.message).toMatch(message);
  });

  it("answers for the last representable days rather than failing in the database", async () => {
    const got = await overHttp({ from: "9999-12-01", to: "9999-12-31" });
    expect(got).toEqual({ status: 200, message: undefined, field: undefined });
    const s = await (
      await as("finance")
    ).reports.usageSummary({ from: "1970-01-01", to: "1970-01-02" });
    expect(s.byDay.map((d) => d.day)).toEqual(["1970-01-01", "1970-01-02"]);
  });
});
