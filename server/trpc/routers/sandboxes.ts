import { z } from "zod";
import { sandboxStates } from "../../../db/schema";
import { extendSandbox } from "../../services/extend";
import { createSandbox, destroySandbox, getSandbox, listSandboxes, previewCreate } from "../../services/sandboxes";
import { router, sandboxWriteProcedure, teamProcedure } from "../init";
import { idempotencyKey } from "../inputs";

const sandboxId = z.string().regex(/^sbx_[a-z0-9]+$/, "must be a sandbox id such as sbx_…");
const ttlSeconds = z
  .number()
  .max(31_536_000, "must be at most 31536000 seconds (a year); profiles allow far less")
  .int("must be a whole number of seconds")
  .positive("must be positive");

export const createSandboxInput = z.object({
  profile: z.string().min(1).max(100),
  ttlSeconds: ttlSeconds.optional(),
  /** Optional: a repeat of a create with the same key returns the first sandbox instead of another. */
  idempotencyKey: idempotencyKey.optional(),
});
export type CreateSandboxInput = z.infer<typeof createSandboxInput>;

export const sandboxesRouter = router({
  create: sandboxWriteProcedure.input(createSandboxInput).mutation(({ ctx, input }) =>
    createSandbox(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input),
  ),
  preview: teamProcedure
    .input(z.object({ profile: z.string().min(1).max(100), ttlSeconds: z.number().optional() }))
    .query(({ ctx, input }) => previewCreate(ctx.rt, ctx.team.teamId, input.profile, input.ttlSeconds)),
  get: teamProcedure.input(z.object({ id: sandboxId })).query(({ ctx, input }) => getSandbox(ctx.rt, ctx.team.teamId, input.id)),
  list: teamProcedure
    .input(
      z.object({
        state: z.array(z.enum(sandboxStates)).optional(),
        profile: z.string().max(100).optional(),
        extension: z.string().max(100).optional(),
        cursor: sandboxId.optional(),
        limit: z.number().int().min(1).max(200).optional(),
      }),
    )
    .query(({ ctx, input }) => listSandboxes(ctx.rt, ctx.team.teamId, input)),
  extend: sandboxWriteProcedure
    .input(z.object({ id: sandboxId, bySeconds: ttlSeconds }))
    .mutation(({ ctx, input }) => extendSandbox(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input.id, input.bySeconds)),
  destroy: sandboxWriteProcedure
    .input(z.object({ id: sandboxId }))
    .mutation(({ ctx, input }) => destroySandbox(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input.id)),
});
