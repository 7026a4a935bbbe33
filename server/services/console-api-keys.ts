import { and, desc, eq, sql } from "drizzle-orm";
import { apikey, member, user } from "../../db/schema";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import { createApiKey } from "./teams";

/**
 * API keys as the console sees them: the team's keys (metadata.teamId), never the key itself —
 * Better Auth stores only a hash, and `start` is the short non-secret prefix it keeps for
 * recognition. The full key is returned once, by create.
 */
const teamOf = sql`(${apikey.metadata})::jsonb ->> 'teamId'`;

export async function listTeamKeys(
  rt: Runtime,
  input: { teamId: string; userId: string; all: boolean },
) {
  const conditions = [sql`${teamOf} = ${input.teamId}`];
  if (!input.all) conditions.push(eq(apikey.referenceId, input.userId));
  const rows = await rt.db
    .select({
      id: apikey.id,
      name: apikey.name,
      start: apikey.start,
      ownerId: apikey.referenceId,
      ownerEmail: user.email,
      enabled: apikey.enabled,
      createdAt: apikey.createdAt,
      lastRequest: apikey.lastRequest,
      expiresAt: apikey.expiresAt,
    })
    .from(apikey)
    // Only keys of the team's members: a key's metadata alone is not proof it belongs here.
    .innerJoin(
      member,
      and(eq(member.userId, apikey.referenceId), eq(member.organizationId, input.teamId)),
    )
    .leftJoin(user, eq(user.id, apikey.referenceId))
    .where(and(...conditions))
    .orderBy(desc(apikey.createdAt));
  return rows.map((r) => ({
    ...r,
    createdAt: r.createdAt.toISOString(),
    lastRequest: r.lastRequest?.toISOString() ?? null,
    expiresAt: r.expiresAt?.toISOString() ?? null,
  }));
}

export async function createTeamKey(
  rt: Runtime,
  input: { teamId: string; userId: string; name: string },
) {
  const name = input.name.trim();
  if (!name)
    throw new AppError("INVALID_INPUT", "give the key a name so you can recognise it later", {
      field: "name",
    });
  const created = await createApiKey(rt, { userId: input.userId, teamId: input.teamId, name });
  rt.logger.info(
    { teamId: input.teamId, userId: input.userId, keyId: created.id },
    "api key created",
  );
  return created;
}

/** Deletes the key row, so verification fails from the next request on. Admins may revoke any. */
export async function revokeTeamKey(
  rt: Runtime,
  input: { teamId: string; userId: string; isAdmin: boolean; keyId: string },
) {
  const conditions = [eq(apikey.id, input.keyId), sql`${teamOf} = ${input.teamId}`];
  if (!input.isAdmin) conditions.push(eq(apikey.referenceId, input.userId));
  const deleted = await rt.db
    .delete(apikey)
    .where(and(...conditions))
    .returning({ id: apikey.id });
  if (deleted.length === 0)
    throw new AppError("NOT_FOUND", "that key does not exist or is not yours to revoke");
  rt.logger.info({ teamId: input.teamId, keyId: input.keyId, by: input.userId }, "api key revoked");
}
