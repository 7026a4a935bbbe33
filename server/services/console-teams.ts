import { and, asc, eq, sql } from "drizzle-orm";
import { apikey, member, organization, user } from "../../db/schema";
import { teamRoles, type TeamRole } from "../auth/roles";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import { findUserId, setMembership } from "./teams";

/** Team membership administration for the console. Roles are read fresh on every request. */

export async function getUserSummary(rt: Runtime, userId: string) {
  const [row] = await rt.db
    .select({ id: user.id, name: user.name, email: user.email })
    .from(user)
    .where(eq(user.id, userId));
  return row ?? null;
}

export async function listMyTeams(rt: Runtime, userId: string) {
  const rows = await rt.db
    .select({ id: organization.id, name: organization.name, role: member.role })
    .from(member)
    .innerJoin(organization, eq(organization.id, member.organizationId))
    .where(eq(member.userId, userId))
    .orderBy(asc(organization.name));
  return rows.map((r) => ({ ...r, role: r.role as TeamRole }));
}

export async function listMembers(rt: Runtime, teamId: string) {
  const rows = await rt.db
    .select({
      id: member.id,
      userId: member.userId,
      role: member.role,
      joinedAt: member.createdAt,
      name: user.name,
      email: user.email,
    })
    .from(member)
    .innerJoin(user, eq(user.id, member.userId))
    .where(eq(member.organizationId, teamId))
    .orderBy(asc(member.createdAt));
  return rows.map((r) => ({ ...r, role: r.role as TeamRole, joinedAt: r.joinedAt.toISOString() }));
}

type Actor = { teamId: string; userId: string; role: TeamRole };

type Tx = Parameters<Parameters<Runtime["db"]["transaction"]>[0]>[0];

/**
 * Runs a membership change with the team's row locked, so two admins changing roles at once
 * cannot both pass the "at least one owner" check and leave the team with none.
 */
async function withTeamLocked<T>(
  rt: Runtime,
  teamId: string,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  return rt.db.transaction(async (tx) => {
    await tx
      .select({ id: organization.id })
      .from(organization)
      .where(eq(organization.id, teamId))
      .for("update");
    return fn(tx);
  });
}

async function ownerCount(tx: Tx, teamId: string) {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(member)
    .where(and(eq(member.organizationId, teamId), eq(member.role, "owner")));
  return Number(row?.n ?? 0);
}

async function memberOrThrow(tx: Tx, teamId: string, memberId: string) {
  const [row] = await tx
    .select()
    .from(member)
    .where(and(eq(member.id, memberId), eq(member.organizationId, teamId)));
  if (!row) throw new AppError("NOT_FOUND", "that person is not a member of this team");
  return row;
}

/** Only an owner may hand out or take away the owner role. */
function checkOwnerRule(actor: Actor, from: string | null, to: TeamRole | null) {
  if ((from === "owner" || to === "owner") && actor.role !== "owner") {
    throw new AppError("FORBIDDEN", "only an owner can grant, change or remove the owner role", {
      field: "role",
    });
  }
}

/** Adds an existing account to the team. People sign up first; there is no email here. */
export async function addMemberByEmail(
  rt: Runtime,
  actor: Actor,
  input: { email: string; role: TeamRole },
) {
  checkOwnerRule(actor, null, input.role);
  const userId = await findUserId(rt, input.email.trim());
  if (!userId) {
    throw new AppError(
      "NOT_FOUND",
      `no account uses ${input.email.trim()}; ask them to sign up first, then add them`,
      { field: "email" },
    );
  }
  const [existing] = await rt.db
    .select({ id: member.id })
    .from(member)
    .where(and(eq(member.organizationId, actor.teamId), eq(member.userId, userId)));
  if (existing)
    throw new AppError(
      "CONFLICT",
      `${input.email.trim()} is already a member; change their role instead`,
      { field: "email" },
    );
  await setMembership(rt, { teamId: actor.teamId, userId, role: input.role });
  rt.logger.info(
    { teamId: actor.teamId, userId, role: input.role, by: actor.userId },
    "member added",
  );
}

export async function changeMemberRole(
  rt: Runtime,
  actor: Actor,
  input: { memberId: string; role: TeamRole },
) {
  if (!teamRoles.includes(input.role))
    throw new AppError("INVALID_INPUT", "unknown role", { field: "role" });
  const row = await withTeamLocked(rt, actor.teamId, async (tx) => {
    const row = await memberOrThrow(tx, actor.teamId, input.memberId);
    checkOwnerRule(actor, row.role, input.role);
    if (
      row.role === "owner" &&
      input.role !== "owner" &&
      (await ownerCount(tx, actor.teamId)) <= 1
    ) {
      throw new AppError(
        "CONFLICT",
        "a team needs at least one owner; make someone else owner first",
        { field: "role" },
      );
    }
    await tx.update(member).set({ role: input.role }).where(eq(member.id, row.id));
    return row;
  });
  rt.logger.info(
    { teamId: actor.teamId, memberId: row.id, role: input.role, by: actor.userId },
    "member role changed",
  );
}

export async function removeMember(rt: Runtime, actor: Actor, memberId: string) {
  const row = await withTeamLocked(rt, actor.teamId, async (tx) => {
    const row = await memberOrThrow(tx, actor.teamId, memberId);
    checkOwnerRule(actor, row.role, null);
    if (row.role === "owner" && (await ownerCount(tx, actor.teamId)) <= 1) {
      throw new AppError(
        "CONFLICT",
        "a team needs at least one owner; make someone else owner first",
      );
    }
    // Their API keys for this team go with them (identity also re-reads membership per request),
    // so adding them back later does not bring old keys back to life.
    await tx.delete(member).where(eq(member.id, row.id));
    await tx
      .delete(apikey)
      .where(
        and(
          eq(apikey.referenceId, row.userId),
          sql`(${apikey.metadata})::jsonb ->> 'teamId' = ${actor.teamId}`,
        ),
      );
    return row;
  });
  rt.logger.info({ teamId: actor.teamId, memberId: row.id, by: actor.userId }, "member removed");
}
