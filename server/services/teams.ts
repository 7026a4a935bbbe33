import { randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { member, user } from "../../db/schema";
import { getAuth } from "../auth/auth";
import type { TeamRole } from "../auth/roles";
import type { Runtime } from "../runtime";
import { topUp } from "./credits";

/** Signs a user up through Better Auth (password hashed by the library); returns the user id. */
export async function createUser(rt: Runtime, input: { email: string; password: string; name: string }): Promise<string> {
  const res = await getAuth(rt).api.signUpEmail({ body: input });
  return res.user.id;
}

export async function findUserId(rt: Runtime, email: string): Promise<string | null> {
  const [row] = await rt.db.select({ id: user.id }).from(user).where(eq(user.email, email.toLowerCase()));
  return row?.id ?? null;
}

/** Creates a team owned by `ownerId` (a Better Auth organization) and optionally funds it. */
export async function createTeam(rt: Runtime, input: { ownerId: string; name: string; creditsMicros?: bigint }): Promise<string> {
  const slug = `${input.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "team"}-${randomBytes(3).toString("hex")}`;
  const org = await getAuth(rt).api.createOrganization({ body: { name: input.name, slug, userId: input.ownerId } });
  if (!org) throw new Error("team could not be created");
  if (input.creditsMicros && input.creditsMicros > 0n) {
    await topUp(rt.db, { teamId: org.id, amountMicros: input.creditsMicros, idempotencyKey: "initial", note: "initial credits" });
  }
  return org.id;
}

/** Adds a user to a team with a role, or changes their role there. */
export async function setMembership(rt: Runtime, input: { teamId: string; userId: string; role: TeamRole }) {
  const existing = await rt.db
    .select({ id: member.id })
    .from(member)
    .where(and(eq(member.organizationId, input.teamId), eq(member.userId, input.userId)));
  if (existing[0]) {
    await rt.db.update(member).set({ role: input.role }).where(eq(member.id, existing[0].id));
    return;
  }
  await getAuth(rt).api.addMember({ body: { organizationId: input.teamId, userId: input.userId, role: input.role } });
}

/** Issues an API key for a user in a team. The key is returned once; only its hash is stored. */
export async function createApiKey(rt: Runtime, input: { userId: string; teamId: string; name: string }): Promise<{ id: string; key: string }> {
  const res = await getAuth(rt).api.createApiKey({ body: { userId: input.userId, name: input.name, metadata: { teamId: input.teamId } } });
  return { id: res.id, key: res.key };
}
