import { z } from "zod";
import { bindCredential, byokSchemes, checkCredentials, listCredentialBindings, removeCredential } from "../../services/credentials";
import { adminProcedure, router, teamProcedure } from "../init";

const extensionId = z.string().regex(/^ext\.[a-z0-9-]+$/, 'must look like "ext.name"');
const field = z.string().regex(/^[a-z][a-z0-9_]*$/, "must be a credential field name such as api_key");

/** BYOK: a team's own secret references per extension. Values are never accepted or returned. */
export const credentialsRouter = router({
  list: teamProcedure.query(({ ctx }) => listCredentialBindings(ctx.rt, ctx.team.teamId)),
  /** The reference schemes this deployment lets a team bind (SANDBOXER_BYOK_SCHEMES). */
  schemes: teamProcedure.query(({ ctx }) => ({ allowed: byokSchemes(ctx.rt) })),
  check: teamProcedure.input(z.object({ extensionId })).query(({ ctx, input }) => checkCredentials(ctx.rt, ctx.team.teamId, input.extensionId)),
  bind: adminProcedure
    .input(z.object({ extensionId, field, secretRef: z.string().trim().min(5, "enter a secret reference such as openbao://mount/path#field").max(500, "at most 500 characters") }))
    .mutation(({ ctx, input }) => bindCredential(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input)),
  remove: adminProcedure
    .input(z.object({ extensionId, field }))
    .mutation(async ({ ctx, input }) => {
      await removeCredential(ctx.rt, ctx.team.teamId, input);
      return checkCredentials(ctx.rt, ctx.team.teamId, input.extensionId);
    }),
});
