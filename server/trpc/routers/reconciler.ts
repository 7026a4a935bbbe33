import { z } from "zod";
import { findingKinds } from "../../../db/schema";
import { listReconcilerFindings } from "../../services/reconciler-findings";
import { adminProcedure, router } from "../init";

/** The reconciler's findings about the caller's team (admin): orphans killed, sandboxes marked lost. */
export const reconcilerRouter = router({
  findings: adminProcedure
    .input(
      z
        .object({
          kind: z.enum(findingKinds).optional(),
          extensionId: z.string().regex(/^ext\.[a-z0-9-]+$/, 'must look like "ext.name"').optional(),
          cursor: z.string().max(100).optional(),
          limit: z.number().int().min(1).max(200).optional(),
        })
        .default({}),
    )
    .query(({ ctx, input }) => listReconcilerFindings(ctx.rt, ctx.team.teamId, input)),
});
