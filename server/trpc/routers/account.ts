import { z } from "zod";
import { hasControlCharacters, idempotencyKey, isoDate } from "../inputs";
import { AppError } from "../../errors";
import { parseDollarsToMicros } from "../../money";
import { getBalance, topUp } from "../../services/credits";
import { previewCreate } from "../../services/sandboxes";
import { listLedger, listUsage } from "../../services/usage";
import { teamName, userEmail } from "../../auth/identity";
import { adminProcedure, authedProcedure, router, teamProcedure } from "../init";
import { formatMoney } from "../../../lib/format";

const balanceView = (b: Awaited<ReturnType<typeof getBalance>>) => ({
  balanceMicros: b.balanceMicros.toString(),
  heldMicros: b.heldMicros.toString(),
  availableMicros: b.availableMicros.toString(),
  currency: "USD" as const,
});

export const meRouter = router({
  whoami: authedProcedure.query(async ({ ctx }) => ({
    userId: ctx.identity.userId,
    email: await userEmail(ctx.rt, ctx.identity.userId),
    teamId: ctx.identity.teamId,
    teamName: ctx.identity.teamId ? await teamName(ctx.rt, ctx.identity.teamId) : null,
    role: ctx.identity.role,
    via: ctx.identity.via,
  })),
});

export const profilesRouter = router({
  /** Every profile with its route and, for its default TTL, what each provider would cost. */
  list: teamProcedure.query(async ({ ctx }) =>
    Promise.all(
      [...ctx.rt.catalog.profiles.values()].map(async (p) => ({
        id: p.id,
        name: p.name,
        description: p.description ?? null,
        pricingModel: p.pricing_model,
        resources: p.resources,
        template: p.template,
        ttl: { defaultSeconds: p.ttl.default_seconds, maxSeconds: p.ttl.max_seconds },
        strategy: p.strategy,
        route: p.route,
        estimate: await previewCreate(ctx.rt, ctx.team.teamId, p.id),
      })),
    ),
  ),
});

export const creditsRouter = router({
  balance: teamProcedure.query(async ({ ctx }) => balanceView(await getBalance(ctx.rt.db, ctx.team.teamId))),
  ledger: teamProcedure
    .input(z.object({ cursor: z.string().max(64).optional(), limit: z.number().int().min(1).max(500).optional() }))
    .query(({ ctx, input }) => listLedger(ctx.rt, ctx.team.teamId, input)),
  topUp: adminProcedure
    .input(
      z.object({
        amount: z.string().max(32).describe('dollars, e.g. "25" or "12.50"'),
        idempotencyKey,
        note: z
          .string()
          .max(200)
          .refine((v) => !hasControlCharacters(v), "must not contain control characters (line breaks, tabs, escape codes)")
          .optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      let micros: bigint;
      try {
        micros = parseDollarsToMicros(input.amount);
      } catch (e) {
        throw new AppError("INVALID_INPUT", (e as Error).message, { field: "amount" });
      }
      if (micros > 1_000_000_000_000n) throw new AppError("INVALID_INPUT", `a top-up of ${formatMoney(micros.toString())} is above the $1,000,000.00 limit`, { field: "amount" });
      const balance = await topUp(ctx.rt.db, { teamId: ctx.team.teamId, amountMicros: micros, idempotencyKey: input.idempotencyKey, actorId: ctx.team.userId, note: input.note });
      ctx.rt.logger.info({ teamId: ctx.team.teamId, amountMicros: micros.toString() }, "credits topped up");
      return balanceView(balance);
    }),
});

export const usageRouter = router({
  list: teamProcedure
    .input(
      z.object({
        from: isoDate.optional(),
        to: isoDate.optional(),
        extension: z.string().max(100).optional(),
        profile: z.string().max(100).optional(),
        cursor: z.string().max(64).optional(),
        limit: z.number().int().min(1).max(500).optional(),
      }),
    )
    .query(({ ctx, input }) => listUsage(ctx.rt, ctx.team.teamId, input)),
});
