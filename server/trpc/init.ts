import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Identity } from "../auth/identity";
import { canAdminTeam, canExportUsage, canManageSandboxes, type TeamRole } from "../auth/roles";
import { AppError, isAppError, type AppErrorCode } from "../errors";
import type { Runtime } from "../runtime";

/**
 * `authProblem` says why a caller who sent credentials is still anonymous (e.g. a revoked key).
 * `pageTeamId` is the team a console page was showing when it sent the request (header below).
 */
export type Context = {
  rt: Runtime;
  identity: Identity | null;
  requestId: string;
  authProblem?: string;
  pageTeamId?: string;
};

/**
 * Sent by the console with every request: the id of the team its page shows. A session's active
 * team is shared by every tab of the browser, so after a switch in one tab (or a removal from
 * the team) another tab would otherwise read and write the new team under the old one's name.
 */
export const PAGE_TEAM_HEADER = "x-sandboxer-team";
export const TEAM_CHANGED_MESSAGE =
  "Your active team changed since this page was loaded (you switched teams in another tab, or were removed from this one). Nothing was done. Reload the page to continue.";

const trpcCodeOf: Record<AppErrorCode, TRPCError["code"]> = {
  NOT_FOUND: "NOT_FOUND",
  INVALID_INPUT: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  INSUFFICIENT_CREDITS: "PAYMENT_REQUIRED",
  NO_ELIGIBLE_PROVIDER: "PRECONDITION_FAILED",
  CONFLICT: "CONFLICT",
  CANNOT_EXTEND: "PRECONDITION_FAILED",
};

const t = initTRPC.context<Context>().create({
  /**
   * The one place errors become API responses. AppErrors keep their (safe) message and code;
   * input errors are flattened per field; anything else is an internal error with a request id,
   * never the raw message or stack.
   */
  errorFormatter({ shape, error, ctx }) {
    const cause = error.cause;
    const appError = isAppError(cause) ? cause : null;
    const zodError = cause instanceof z.ZodError ? cause : null;
    const internal = !appError && error.code === "INTERNAL_SERVER_ERROR";
    // A body that is not JSON: tRPC reports the parser's own message (with positions) as BAD_REQUEST.
    const notJson = error.code === "PARSE_ERROR" || (error.code === "BAD_REQUEST" && cause instanceof SyntaxError);
    const zodMessage = zodError?.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
    return {
      ...shape,
      message: internal
        ? `internal error (request ${ctx?.requestId ?? "unknown"})`
        : notJson
          ? "the request body is not valid JSON"
          : (zodMessage ?? shape.message),
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        appCode: appError?.code ?? null,
        field: appError?.details.field ?? (zodError?.issues[0]?.path.join(".") || null),
        fieldErrors: zodError ? z.flattenError(zodError).fieldErrors : null,
        requestId: ctx?.requestId ?? null,
      },
    };
  },
});

/** Refusal of a team procedure to a signed-in person with no team (the console sends them to onboarding). */
export const NO_TEAM_MESSAGE = "you are not a member of a team; create or join one first";

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Turns AppErrors into TRPCErrors and logs unexpected ones once, with their stack. */
const errorMapping = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (isAppError(cause)) {
      throw new TRPCError({ code: trpcCodeOf[cause.code], message: cause.message, cause });
    }
    if (result.error.code === "INTERNAL_SERVER_ERROR") {
      ctx.rt.logger.error({ requestId: ctx.requestId, path, err: result.error.cause ?? result.error }, "request failed");
    }
  }
  return result;
});

/**
 * The path of the first string in `value` holding a NUL character, which no text column can
 * store: refused here, naming the field, instead of failing in the database as an internal error.
 */
export function findNulCharacter(value: unknown, path: string[] = [], depth = 0): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path.join(".") || "input" : null;
  if (depth > 20 || value === null || typeof value !== "object") return null;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes("\u0000")) return [...path, key.replaceAll("\u0000", "\\0")].join(".");
    const found = findNulCharacter(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

const rejectNulCharacters = t.middleware(async ({ next, getRawInput }) => {
  const field = findNulCharacter(await getRawInput());
  if (field) throw new AppError("INVALID_INPUT", `${field}: must not contain NUL characters`, { field });
  return next();
});

export const publicProcedure = t.procedure.use(errorMapping).use(rejectNulCharacters);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.identity) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: ctx.authProblem ?? "sign in or send an API key (Authorization: Bearer …)" });
  }
  return next({ ctx: { ...ctx, identity: ctx.identity } });
});

/** A procedure scoped to the caller's team, with the caller's role checked (invariant 9). */
export const teamProcedure = authedProcedure.use(({ ctx, next }) => {
  const { teamId, role, userId } = ctx.identity;
  if (!teamId || !role) throw new TRPCError({ code: "FORBIDDEN", message: NO_TEAM_MESSAGE });
  if (ctx.pageTeamId && ctx.pageTeamId !== teamId) throw new AppError("CONFLICT", TEAM_CHANGED_MESSAGE);
  return next({ ctx: { ...ctx, team: { teamId, role, userId } } });
});

const requireRole = (allowed: (role: TeamRole) => boolean, what: string) =>
  teamProcedure.use(({ ctx, next }) => {
    if (!allowed(ctx.team.role)) throw new TRPCError({ code: "FORBIDDEN", message: `the ${ctx.team.role} role cannot ${what}` });
    return next();
  });

export const sandboxWriteProcedure = requireRole(canManageSandboxes, "create, extend or destroy sandboxes");
export const adminProcedure = requireRole(canAdminTeam, "administer the team");
export const financeProcedure = requireRole(canExportUsage, "export usage or read billing deliveries");
