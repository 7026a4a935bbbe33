import { z } from "zod";
import { plainName } from "../inputs";
import { canAdminTeam, canManageSandboxes, teamRoles } from "../../auth/roles";
import { teamName } from "../../auth/identity";
import { AppError } from "../../errors";
import {
  addMemberByEmail,
  changeMemberRole,
  getUserSummary,
  listMembers,
  listMyTeams,
  removeMember,
} from "../../services/console-teams";
import { createTeam } from "../../services/teams";
import { adminProcedure, authedProcedure, router, teamProcedure } from "../init";

const role = z.enum(teamRoles);

export const teamsRouter = router({
  /** Who is signed in, the active team, what they may do there, and every team they belong to. */
  current: authedProcedure.query(async ({ ctx }) => {
    const { userId, teamId, role: myRole } = ctx.identity;
    const [me, teams] = await Promise.all([
      getUserSummary(ctx.rt, userId),
      listMyTeams(ctx.rt, userId),
    ]);
    return {
      user: me ?? { id: userId, name: "", email: "" },
      team: teamId ? { id: teamId, name: (await teamName(ctx.rt, teamId)) ?? teamId } : null,
      role: myRole,
      can: {
        manageSandboxes: myRole ? canManageSandboxes(myRole) : false,
        admin: myRole ? canAdminTeam(myRole) : false,
      },
      teams,
    };
  }),
  /** Creates a team with the caller as owner; the browser then makes it the active team. */
  create: authedProcedure
    .input(
      z.object({
        name: plainName(60, "give the team a name"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const id = await createTeam(ctx.rt, { ownerId: ctx.identity.userId, name: input.name });
      ctx.rt.logger.info({ teamId: id, userId: ctx.identity.userId }, "team created");
      return { id, name: input.name };
    }),
  members: router({
    list: teamProcedure.query(({ ctx }) => listMembers(ctx.rt, ctx.team.teamId)),
    add: adminProcedure
      .input(z.object({ email: z.email("must be an email address").max(200), role }))
      .mutation(({ ctx, input }) => addMemberByEmail(ctx.rt, ctx.team, input)),
    setRole: adminProcedure
      .input(z.object({ memberId: z.string().min(1).max(100), role }))
      .mutation(({ ctx, input }) => changeMemberRole(ctx.rt, ctx.team, input)),
    remove: adminProcedure
      .input(z.object({ memberId: z.string().min(1).max(100) }))
      .mutation(async ({ ctx, input }) => {
        const members = await listMembers(ctx.rt, ctx.team.teamId);
        if (members.find((m) => m.id === input.memberId)?.userId === ctx.team.userId) {
          throw new AppError("CONFLICT", "you cannot remove yourself; ask another admin");
        }
        await removeMember(ctx.rt, ctx.team, input.memberId);
      }),
  }),
});
