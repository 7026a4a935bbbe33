import { z } from "zod";
import { plainName } from "../inputs";
import { IDENTITY_LIMITS } from "../../auth/auth";
import { canAdminTeam } from "../../auth/roles";
import { createTeamKey, listTeamKeys, revokeTeamKey } from "../../services/console-api-keys";
import { listRegistry } from "../../services/console-registry";
import { DAY_FORMAT_MESSAGE, usageSummary } from "../../services/console-usage";
import { router, teamProcedure } from "../init";

/**
 * The shape of a day; whether it is a real calendar day in range (and from ≤ to) is the
 * service's check, which names the field the same way. A missing or non-string value gets the
 * same message as a malformed one, not zod's "Invalid input: expected string".
 */
const day = z
  .string({ error: DAY_FORMAT_MESSAGE })
  .regex(/^\d{4}-\d{2}-\d{2}$/, DAY_FORMAT_MESSAGE);

/**
 * API keys belong to a person in a team and act with that person's role there, so anyone in the
 * team may hold keys; admins see and revoke every key of the team.
 */
export const apiKeysRouter = router({
  list: teamProcedure.query(({ ctx }) =>
    listTeamKeys(ctx.rt, {
      teamId: ctx.team.teamId,
      userId: ctx.team.userId,
      all: canAdminTeam(ctx.team.role),
    }),
  ),
  /** The only response that ever contains the key; only its hash is stored. */
  create: teamProcedure
    .input(
      z.object({
        name: plainName(IDENTITY_LIMITS.apiKeyName, "give the key a name"),
      }),
    )
    .mutation(({ ctx, input }) =>
      createTeamKey(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId, name: input.name }),
    ),
  revoke: teamProcedure
    .input(z.object({ id: z.string().min(1).max(100) }))
    .mutation(({ ctx, input }) =>
      revokeTeamKey(ctx.rt, {
        teamId: ctx.team.teamId,
        userId: ctx.team.userId,
        isAdmin: canAdminTeam(ctx.team.role),
        keyId: input.id,
      }),
    ),
});

export const registryRouter = router({
  /** Profiles and extensions: pricing, limits, and whether the team's credentials resolve (never values). */
  list: teamProcedure.query(({ ctx }) => listRegistry(ctx.rt, ctx.team.teamId)),
});

export const reportsRouter = router({
  /** Cost and sandbox-hours by day, extension and profile over whole UTC days. */
  usageSummary: teamProcedure
    .input(z.object({ from: day, to: day }))
    .query(({ ctx, input }) => usageSummary(ctx.rt, ctx.team.teamId, input)),
});
