import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditLedger, sandboxes } from "../../db/schema";
import { createContext } from "../trpc/context";
import { createCaller } from "../trpc/root";
import { createTestRuntime, openTestDb, type TestRuntime } from "../testing/harness";
import { getBalance } from "./credits";
import { createApiKey, createTeam, createUser } from "./teams";

/** sandboxes.create with an idempotency key: a double click or a retried request creates once. */
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let teamId = "";
let otherTeam = "";
let key = "";
let otherKey = "";

beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
  const owner = await createUser(rt, {
    email: "owner@idem.test",
    password: "password-owner",
    name: "Owner",
  });
  teamId = await createTeam(rt, { ownerId: owner, name: "Idem", creditsMicros: 10_000_000n });
  key = (await createApiKey(rt, { userId: owner, teamId, name: "k" })).key;
  const other = await createUser(rt, {
    email: "other@idem.test",
    password: "password-other",
    name: "Other",
  });
  otherTeam = await createTeam(rt, { ownerId: other, name: "Other", creditsMicros: 10_000_000n });
  otherKey = (await createApiKey(rt, { userId: other, teamId: otherTeam, name: "k" })).key;
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

const api = async (k = key) =>
  createCaller(await createContext({ headers: new Headers({ authorization: `Bearer ${k}` }), rt }));
const sandboxesOf = (team: string, requestKey: string) =>
  rt.db
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.teamId, team), eq(sandboxes.requestKey, requestKey)));

describe("create with an idempotency key", () => {
  it("five racing creates with one key make one sandbox and one hold", async () => {
    const before = await getBalance(rt.db, teamId);
    const caller = await api();
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        caller.sandboxes.create({
          profile: "burst-sandbox",
          ttlSeconds: 60,
          idempotencyKey: "form-1234-abcd",
        }),
      ),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const rows = await sandboxesOf(teamId, "form-1234-abcd");
    expect(rows).toHaveLength(1);
    const holds = await rt.db
      .select()
      .from(creditLedger)
      .where(and(eq(creditLedger.sandboxId, rows[0]!.id), eq(creditLedger.kind, "hold")));
    expect(holds).toHaveLength(1);
    const after = await getBalance(rt.db, teamId);
    expect(after.heldMicros - before.heldMicros).toBe(rows[0]!.holdMicros);
    // A later repeat still answers with the same sandbox.
    expect(
      (
        await caller.sandboxes.create({
          profile: "burst-sandbox",
          ttlSeconds: 60,
          idempotencyKey: "form-1234-abcd",
        })
      ).id,
    ).toBe(results[0]!.id);
  });

  it("refuses the same key for a different profile, naming the sandbox it made", async () => {
    const caller = await api();
    const first = await caller.sandboxes.create({
      profile: "burst-sandbox",
      ttlSeconds: 60,
      idempotencyKey: "form-other-profile",
    });
    const err = await caller.sandboxes
      .create({ profile: "e2b-burst", ttlSeconds: 60, idempotencyKey: "form-other-profile" })
      .then(
        () => null,
        (e: unknown) => e as TRPCError,
      );
    expect(err?.code).toBe("CONFLICT");
    expect(err?.message).toContain(first.id);
  });

  it("refuses the same key for a different TTL, and takes an omitted TTL as the profile's default", async () => {
    const caller = await api();
    const first = await caller.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60, idempotencyKey: "form-other-ttl" });
    const err = await caller.sandboxes
      .create({ profile: "burst-sandbox", ttlSeconds: 600, idempotencyKey: "form-other-ttl" })
      .then(
        () => null,
        (e: unknown) => e as TRPCError,
      );
    expect(err?.code).toBe("CONFLICT");
    expect(err?.message).toBe(`idempotency key already used for ${first.id} on profile.burst-sandbox with TTL 60s; use a new key for a different request`);
    expect(await sandboxesOf(teamId, "form-other-ttl")).toHaveLength(1);
    // Extending the first sandbox does not change what its key stands for.
    await rt.db.update(sandboxes).set({ ttlSeconds: 120 }).where(eq(sandboxes.id, first.id));
    expect((await caller.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60, idempotencyKey: "form-other-ttl" })).id).toBe(first.id);

    const byDefault = await caller.sandboxes.create({ profile: "burst-sandbox", idempotencyKey: "form-default-ttl" });
    expect(byDefault.ttlSeconds).toBe(300);
    expect((await caller.sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 300, idempotencyKey: "form-default-ttl" })).id).toBe(byDefault.id);
    expect((await caller.sandboxes.create({ profile: "burst-sandbox", idempotencyKey: "form-default-ttl" })).id).toBe(byDefault.id);
  });

  it("keys are per team, and creates without a key are independent", async () => {
    const mine = await (
      await api()
    ).sandboxes.create({
      profile: "burst-sandbox",
      ttlSeconds: 60,
      idempotencyKey: "shared-key-0001",
    });
    const theirs = await (
      await api(otherKey)
    ).sandboxes.create({
      profile: "burst-sandbox",
      ttlSeconds: 60,
      idempotencyKey: "shared-key-0001",
    });
    expect(theirs.id).not.toBe(mine.id);
    const a = await (await api()).sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60 });
    const b = await (await api()).sandboxes.create({ profile: "burst-sandbox", ttlSeconds: 60 });
    expect(a.id).not.toBe(b.id);
  });

  it("a key that is not a plain token is refused", async () => {
    const err = await (
      await api()
    ).sandboxes
      .create({ profile: "burst-sandbox", ttlSeconds: 60, idempotencyKey: "short" })
      .then(
        () => null,
        (e: unknown) => e as TRPCError,
      );
    expect(err?.code).toBe("BAD_REQUEST");
  });
});
