import { z } from "zod";
import { AppError } from "../../errors";
import { formatMicros, parseDollarsToMicros } from "../../money";
import { getBalance, topUp } from "../../services/credits";
import { previewCreate } from "../../services/sandboxes";
import { listLedger, listUsage } from "../../services/usage";
import { teamName, userEmail } from "../../auth/identity";
import { adminProcedure, authedProcedure, router, teamProcedure } from "../init";

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
        idempotencyKey: z.string().min(8).max(100),
        note: z.string().max(200).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      let micros: bigint;
      try {
        micros = parseDollarsToMicros(input.amount);
      } catch (e) {
        throw new AppError("INVALID_INPUT", (e as Error).message, { field: "amount" });
      }
      if (micros > 1_000_000_000_000n) throw new AppError("INVALID_INPUT", `top-up of $${formatMicros(micros)} is above the $1,000,000 limit`, { field: "amount" });
      const balance = await topUp(ctx.rt.db, { teamId: ctx.team.teamId, amountMicros: micros, idempotencyKey: input.idempotencyKey, actorId: ctx.team.userId, note: input.note });
      ctx.rt.logger.info({ teamId: ctx.team.teamId, amountMicros: micros.toString() }, "credits topped up");
      return balanceView(balance);
    }),
});

/** A calendar day (2026-12-01, as 00:00 UTC) or an ISO time with its offset; never a rolled-over day. */
const isoDate = z
  .string({ error: "must be a date such as 2026-12-01 or an ISO time such as 2026-12-01T09:00:00Z" })
  .max(40)
  .transform((v, ctx) => {
    const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
    const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(v);
    const d = new Date(dayOnly ? `${v}T00:00:00.000Z` : v);
    if ((!dayOnly && !isoTime) || Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: "custom", message: "must be a date such as 2026-12-01 or an ISO time such as 2026-12-01T09:00:00Z" });
      return z.NEVER;
    }
    if (v.slice(0, 10) !== (dayOnly ? d : new Date(Date.UTC(+v.slice(0, 4), +v.slice(5, 7) - 1, +v.slice(8, 10)))).toISOString().slice(0, 10)) {
      ctx.addIssue({ code: "custom", message: `${v.slice(0, 10)} is not a calendar date` });
      return z.NEVER;
    }
    return d;
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
