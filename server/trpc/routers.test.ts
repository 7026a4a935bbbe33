import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, openTestDb, type TestRuntime } from "../testing/harness";
import { createApiKey, createTeam, createUser, setMembership } from "../services/teams";
import { createContext } from "./context";
import { createCaller } from "./root";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
const keys: Record<string, string> = {};

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
  const owner = await createUser(rt, { email: "owner@a.test", password: "password-owner", name: "Owner A" });
  const teamA = await createTeam(rt, { ownerId: owner, name: "Team A", creditsMicros: 10_000_000n });
  keys.owner = (await createApiKey(rt, { userId: owner, teamId: teamA, name: "owner" })).key;
  for (const role of ["member", "finance", "admin"] as const) {
    const id = await createUser(rt, { email: `${role}@a.test`, password: `password-${role}`, name: role });
    await setMembership(rt, { teamId: teamA, userId: id, role });
    keys[role] = (await createApiKey(rt, { userId: id, teamId: teamA, name: role })).key;
  }
  const other = await createUser(rt, { email: "b@b.test", password: "password-b", name: "B" });
  const teamB = await createTeam(rt, { ownerId: other, name: "Team B", creditsMicros: 100n });
  keys.other = (await createApiKey(rt, { userId: other, teamId: teamB, name: "b" })).key;
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

async function as(who: string | null) {
  const headers = new Headers(who ? { authorization: `Bearer ${keys[who] ?? who}` } : {});
  return createCaller(await createContext({ headers, rt }));
}
async function errorOf(p: Promise<unknown>): Promise<TRPCError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TRPCError);
  return err as TRPCError;
}
async function codeOf(p: Promise<unknown>) {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TRPCError);
  return (err as TRPCError).code;
}

describe("API permissions", () => {
  it("refuses anonymous callers and unknown keys", async () => {
    expect(await codeOf((await as(null)).credits.balance())).toBe("UNAUTHORIZED");
    const badKey = await errorOf((await as("sbxk_notakey")).credits.balance());
    expect(badKey.code).toBe("UNAUTHORIZED");
    expect(badKey.message).toBe("the API key was not accepted: it is unknown, revoked or expired");
  });

  it("lets a member create, and a finance user read but not create or destroy", async () => {
    const member = await as("member");
    const created = await member.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60 });
    expect(created.state).toBe("requested");

    const finance = await as("finance");
    expect(await codeOf(finance.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60 }))).toBe("FORBIDDEN");
    expect(await codeOf(finance.sandboxes.destroy({ id: created.id }))).toBe("FORBIDDEN");
    expect(await codeOf(finance.sandboxes.extend({ id: created.id, bySeconds: 10 }))).toBe("FORBIDDEN");
    expect((await finance.credits.balance()).heldMicros).toBe(created.holdMicros);
    expect(await finance.usage.list({})).toMatchObject({ items: [], totals: { count: 0 } });
    expect((await finance.sandboxes.get({ id: created.id })).id).toBe(created.id);
  });

  it("answers NOT_FOUND for another team's sandbox, for every procedure", async () => {
    const created = await (await as("member")).sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60 });
    const other = await as("other");
    expect(await codeOf(other.sandboxes.get({ id: created.id }))).toBe("NOT_FOUND");
    expect(await codeOf(other.sandboxes.destroy({ id: created.id }))).toBe("NOT_FOUND");
    expect(await codeOf(other.sandboxes.extend({ id: created.id, bySeconds: 10 }))).toBe("NOT_FOUND");
    expect((await other.sandboxes.list({})).items.map((s) => s.id)).not.toContain(created.id);
  });

  it("lets only owners and admins top up, idempotently", async () => {
    expect(await codeOf((await as("member")).credits.topUp({ amount: "5", idempotencyKey: "member-try-1" }))).toBe("FORBIDDEN");
    expect(await codeOf((await as("finance")).credits.topUp({ amount: "5", idempotencyKey: "finance-try-1" }))).toBe("FORBIDDEN");
    const admin = await as("admin");
    const before = BigInt((await admin.credits.balance()).balanceMicros);
    await admin.credits.topUp({ amount: "2.5", idempotencyKey: "admin-topup-1" });
    const after = await admin.credits.topUp({ amount: "2.5", idempotencyKey: "admin-topup-1" });
    expect(BigInt(after.balanceMicros) - before).toBe(2_500_000n);
    const reused = await errorOf(admin.credits.topUp({ amount: "999", idempotencyKey: "admin-topup-1" }));
    expect(reused.code).toBe("CONFLICT");
    expect(reused.message).toMatch(/already used for a top-up of \$2\.500000/);
    expect(BigInt((await admin.credits.balance()).balanceMicros) - before).toBe(2_500_000n);
    expect(await codeOf(admin.credits.topUp({ amount: "1.0000001", idempotencyKey: "admin-topup-2" }))).toBe("BAD_REQUEST");
    const tooMuch = await errorOf(admin.credits.topUp({ amount: "1000000.5", idempotencyKey: "admin-topup-3" }));
    expect(tooMuch.code).toBe("BAD_REQUEST");
    expect(tooMuch.message).toBe("a top-up of $1,000,000.50 is above the $1,000,000.00 limit");
    // The same key rules as sandboxes.create: eight spaces or a line break are not a key.
    for (const bad of ["        ", "topup\nkey-1", "short"]) {
      const refused = await errorOf(admin.credits.topUp({ amount: "1", idempotencyKey: bad }));
      expect(refused.code).toBe("BAD_REQUEST");
      expect(refused.message).toMatch(/must be 8–100 letters, digits or \. _ : -/);
    }
  });
});

describe("API errors", () => {
  it("names the field for a TTL above the maximum and creates nothing", async () => {
    const member = await as("member");
    const before = (await member.sandboxes.list({})).items.length;
    const err = await errorOf(member.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 7200 }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/TTL 7200s is above profile.burst-sandbox's maximum of 3600s/);
    expect((await member.sandboxes.list({})).items.length).toBe(before);
  });

  it("refuses a create the team cannot pay for with PAYMENT_REQUIRED", async () => {
    const err = await errorOf((await as("other")).sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 3600 }));
    expect(err.code).toBe("PAYMENT_REQUIRED");
    expect(err.message).toMatch(/insufficient credits: this needs a hold of \$0\.093600 but \$0\.000100 is available/);
  });

  it("refuses a Modal GPU profile with the reasons when no provider can run it", async () => {
    const err = await errorOf((await as("member")).sandboxes.create({ profile: "modal-gpu" }));
    expect(err.code).toBe("PRECONDITION_FAILED");
    expect(err.message).toMatch(/ext.modal: credentials not available: credential token_id: env:MODAL_TOKEN_ID is not set/);
  });

  it("previews estimates, the chosen provider and skip reasons without holding anything", async () => {
    const member = await as("member");
    const before = await member.credits.balance();
    const preview = await member.sandboxes.preview({ profile: "burst-sandbox", ttlSeconds: 100 });
    expect(preview.chosenExtensionId).toBe("ext.saas-stub");
    expect(preview.holdMicros).toBe("2600");
    expect(preview.candidates.map((c) => [c.extensionId, c.eligible])).toEqual([
      ["ext.e2b", false],
      ["ext.modal", false],
      ["ext.saas-stub", true],
    ]);
    expect(await member.credits.balance()).toEqual(before);
  });
});

describe("usage.list dates", () => {
  it("names the field for a date that is not a calendar day, a malformed one, and an end before the start", async () => {
    const finance = await as("finance");
    const feb30 = await errorOf(finance.usage.list({ from: "2026-02-30" }));
    expect(feb30.code).toBe("BAD_REQUEST");
    expect(feb30.message).toMatch(/2026-02-30 is not a calendar date/);
    const junk = await errorOf(finance.usage.list({ to: "yesterday" }));
    expect(junk.message).toMatch(/must be a date such as 2026-12-01 or an ISO time/);
    const reversed = await errorOf(finance.usage.list({ from: "2026-12-05", to: "2026-12-01" }));
    expect(reversed.code).toBe("BAD_REQUEST");
    expect(reversed.message).toBe("the end 2026-12-01 00:00:00 UTC is before the start 2026-12-05 00:00:00 UTC");
    // Days and ISO times with an offset are fine.
    expect((await finance.usage.list({ from: "2026-12-01", to: "2026-12-02T09:30:00+02:00" })).items).toEqual([]);
  });
});

