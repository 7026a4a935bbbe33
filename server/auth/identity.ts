import { and, asc, eq } from "drizzle-orm";
import { member, organization, user } from "../../db/schema";
import type { Runtime } from "../runtime";
import { getAuth } from "./auth";
import { teamRoles, type TeamRole } from "./roles";

export type Identity = {
  userId: string;
  teamId: string | null;
  role: TeamRole | null;
  via: "session" | "api_key";
};

function bearerKey(headers: Headers): string | null {
  const auth = headers.get("authorization");
  if (auth?.toLowerCase().startsWith("bearer ")) return auth.slice(7).trim() || null;
  return headers.get("x-api-key");
}

async function membership(rt: Runtime, userId: string, teamId: string | null) {
  const rows = await rt.db
    .select({ teamId: member.organizationId, role: member.role })
    .from(member)
    .where(teamId ? and(eq(member.userId, userId), eq(member.organizationId, teamId)) : eq(member.userId, userId))
    .orderBy(asc(member.createdAt))
    .limit(1);
  const row = rows[0];
  if (!row) return { teamId: null, role: null };
  const role = (teamRoles as readonly string[]).includes(row.role) ? (row.role as TeamRole) : null;
  return { teamId: row.teamId, role };
}

/**
 * Who is calling: an API key (Bearer or x-api-key; the key's metadata names its team) or a
 * session cookie (the session's active team, else the user's first). The role is read from the
 * membership on every request, so a changed role takes effect at once. Null when anonymous.
 */
export async function identify(rt: Runtime, headers: Headers): Promise<Identity | null> {
  const auth = getAuth(rt);
  const key = bearerKey(headers);
  if (key) {
    const result = await auth.api.verifyApiKey({ body: { key } });
    if (!result.valid || !result.key) return null;
    const metadata = (result.key.metadata ?? {}) as { teamId?: string };
    const userId = result.key.referenceId;
    const m = await membership(rt, userId, metadata.teamId ?? null);
    // A key whose user has left the team keeps no access to it.
    return { userId, ...m, via: "api_key" };
  }
  const session = await auth.api.getSession({ headers });
  if (!session) return null;
  const active = (session.session as { activeOrganizationId?: string | null }).activeOrganizationId ?? null;
  let m = await membership(rt, session.user.id, active);
  if (!m.teamId && active) m = await membership(rt, session.user.id, null);
  return { userId: session.user.id, ...m, via: "session" };
}

export async function userEmail(rt: Runtime, userId: string): Promise<string | null> {
  const [row] = await rt.db.select({ email: user.email }).from(user).where(eq(user.id, userId));
  return row?.email ?? null;
}

export async function teamName(rt: Runtime, teamId: string): Promise<string | null> {
  const [row] = await rt.db.select({ name: organization.name }).from(organization).where(eq(organization.id, teamId));
  return row?.name ?? null;
}
