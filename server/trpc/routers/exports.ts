import { z } from "zod";
import { finHubBatchStatuses, usageExportFormats } from "../../../db/schema";
import { finHubConfig } from "../../fin-hub/config";
import { getUsageExport, listUsageExports, requestUsageExport } from "../../services/exports";
import { finHubReconciliation, listFinHubBatches, requeueFinHubBatch } from "../../services/fin-hub";
import { adminProcedure, financeProcedure, router } from "../init";
import { isoDate } from "../inputs";
import { usageRouter } from "./account";

const exportId = z.string().regex(/^exp_[a-z0-9]+$/, "not an export id");
const batchId = z.string().regex(/^fhb_[a-z0-9]+$/, "not a batch id");

/**
 * `usage.*`: the usage procedures of account.ts plus finance exports (owner, admin, finance; a
 * member is refused). `to` is exclusive, like usage.list.
 */
export const usageWithExportsRouter = router({
  ...usageRouter._def.record,
  /** Starts a CSV or FOCUS 1.2 export of the team's usage records; small ones are ready at once. */
  export: financeProcedure
    .input(
      z.object({
        format: z.enum(usageExportFormats),
        from: isoDate.optional(),
        to: isoDate.optional(),
        extension: z.string().max(100).optional(),
        profile: z.string().max(100).optional(),
      }),
    )
    .mutation(({ ctx, input }) => requestUsageExport(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input)),
  exports: financeProcedure
    .input(z.object({ limit: z.number().int().min(1).max(100).optional() }).optional())
    .query(({ ctx, input }) => listUsageExports(ctx.rt, ctx.team.teamId, input?.limit)),
  exportStatus: financeProcedure.input(z.object({ id: exportId })).query(({ ctx, input }) => getUsageExport(ctx.rt, ctx.team.teamId, input.id)),
});

/** fin-hub deliveries of the team's usage records; requeueing is for owners and admins. */
export const finHubRouter = router({
  status: financeProcedure.query(async ({ ctx }) => {
    const cfg = finHubConfig(ctx.rt.env);
    return {
      // The host only: never the path's tokens, never the secret.
      host: cfg ? new URL(cfg.url).host : null,
      intervalMs: cfg?.intervalMs ?? null,
      attempts: cfg?.attempts ?? null,
      ...(await finHubReconciliation(ctx.rt, ctx.team.teamId)),
    };
  }),
  batches: financeProcedure
    .input(z.object({ status: z.enum(finHubBatchStatuses).optional(), cursor: z.number().int().optional(), limit: z.number().int().min(1).max(200).optional() }))
    .query(({ ctx, input }) => listFinHubBatches(ctx.rt, ctx.team.teamId, input)),
  /** A dead batch goes back in the queue: same id, same bytes, attempts from zero. */
  retry: adminProcedure
    .input(z.object({ id: batchId }))
    .mutation(({ ctx, input }) => requeueFinHubBatch(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input.id, "retry")),
  /** A delivered batch is sent again (fin-hub lost it): same id, same bytes; fin-hub dedupes. */
  resend: adminProcedure
    .input(z.object({ id: batchId }))
    .mutation(({ ctx, input }) => requeueFinHubBatch(ctx.rt, { teamId: ctx.team.teamId, userId: ctx.team.userId }, input.id, "resend")),
});
