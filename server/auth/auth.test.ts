import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { organization, user } from "../../db/schema";
import { createTeam, createUser } from "../services/teams";
import { createTestRuntime, openTestDb, type TestRuntime } from "../testing/harness";
import { DISABLED_AUTH_PATHS, getAuth, IDENTITY_LIMITS } from "./auth";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle);
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
});

const email = (tag: string) => `limits-${tag}-${Date.now()}@example.test`;

describe("Better Auth's own endpoints keep the app's length limits", () => {
  it("refuses a sign-up whose name or email is too long, naming the field, and stores nothing", async () => {
    const longName = createUser(rt, {
      email: email("name"),
      password: "correct-horse-battery",
      name: "n".repeat(IDENTITY_LIMITS.userName + 1),
    });
    await expect(longName).rejects.toThrow(/name: at most 100 characters/);
    const longEmail = `${"e".repeat(IDENTITY_LIMITS.email)}@example.test`;
    await expect(
      createUser(rt, { email: longEmail, password: "correct-horse-battery", name: "Ok" }),
    ).rejects.toThrow(/email: at most 200 characters/);
    expect(await rt.db.select().from(user).where(eq(user.email, longEmail))).toHaveLength(0);
    // At the limit is fine.
    const id = await createUser(rt, {
      email: email("ok"),
      password: "correct-horse-battery",
      name: "n".repeat(IDENTITY_LIMITS.userName),
    });
    expect(id).toBeTruthy();
  });

  it("refuses a password over 128 characters", async () => {
    await expect(
      createUser(rt, { email: email("pw"), password: "p".repeat(129), name: "Pw" }),
    ).rejects.toThrow();
  });

  it("refuses a team name over the limit through the organization endpoint, on create and on rename", async () => {
    const ownerEmail = email("owner");
    const owner = await createUser(rt, {
      email: ownerEmail,
      password: "correct-horse-battery",
      name: "Owner",
    });
    const auth = getAuth(rt);
    await expect(
      auth.api.createOrganization({
        body: {
          name: "t".repeat(IDENTITY_LIMITS.teamName + 1),
          slug: `long-${Date.now()}`,
          userId: owner,
        },
      }),
    ).rejects.toThrow(/name: at most 60 characters/);
    const teamId = await createTeam(rt, { ownerId: owner, name: "Short name" });
    const signedIn = await auth.api.signInEmail({
      body: { email: ownerEmail, password: "correct-horse-battery" },
      asResponse: true,
    });
    const cookie = signedIn.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    await expect(
      auth.api.updateOrganization({
        headers: new Headers({ cookie }),
        body: { organizationId: teamId, data: { name: "t".repeat(IDENTITY_LIMITS.teamName + 1) } },
      }),
    ).rejects.toThrow(/name: at most 60 characters/);
    // A rename within the limit goes through the same path (so the refusal above is the hook's).
    await auth.api.updateOrganization({
      headers: new Headers({ cookie }),
      body: { organizationId: teamId, data: { name: "Renamed" } },
    });
    const [row] = await rt.db
      .select({ name: organization.name })
      .from(organization)
      .where(eq(organization.id, teamId));
    expect(row!.name).toBe("Renamed");
  });
});

describe("Better Auth endpoints the tRPC procedures replace", () => {
  const post = (path: string, body: unknown) =>
    getAuth(rt).handler(
      new Request(`${rt.env.SANDBOXER_URL}/api/auth${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          origin: new URL(rt.env.SANDBOXER_URL).origin,
        },
        body: JSON.stringify(body),
      }),
    );

  it("are not served over HTTP: an API key naming any team, or a role change around the owner rules", async () => {
    for (const path of DISABLED_AUTH_PATHS) {
      expect((await post(path, {})).status, path).toBe(404);
    }
    expect(
      (await post("/api-key/create", { name: "x", metadata: { teamId: "someone-else" } })).status,
    ).toBe(404);
  });

  it("while sign-up and sign-in still are", async () => {
    const e = email("http");
    expect(
      (await post("/sign-up/email", { email: e, password: "correct-horse-battery", name: "Http" }))
        .status,
    ).toBe(200);
    expect(
      (await post("/sign-in/email", { email: e, password: "correct-horse-battery" })).status,
    ).toBe(200);
  });
});
