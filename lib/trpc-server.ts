import { TRPCError } from "@trpc/server";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { createContext } from "@/server/trpc/context";
import { NO_TEAM_MESSAGE } from "@/server/trpc/init";
import { createCaller } from "@/server/trpc/root";

/**
 * The server-side tRPC caller for server components: the same procedures, auth and role checks
 * as the HTTP API, with the request's cookies. Cached per request so a layout and its page
 * share one identity lookup.
 */
export const getCaller = cache(async () =>
  createCaller(await createContext({ headers: await headers() })),
);

export const isTRPCError = (err: unknown, code: TRPCError["code"]) =>
  err instanceof TRPCError && err.code === code;

/**
 * Runs a server-side read for a console page. A page renders alongside its layout, so when
 * the session has ended the page's own read fails too: send the visitor to sign in, as the
 * layout does, instead of rendering (and logging) an error.
 */
export async function serverRead<T>(
  read: (caller: Awaited<ReturnType<typeof getCaller>>) => Promise<T>,
): Promise<T> {
  try {
    return await read(await getCaller());
  } catch (err) {
    if (isTRPCError(err, "UNAUTHORIZED")) redirect("/sign-in");
    // Signed in without a team (the layout sends them to onboarding as well).
    if (isTRPCError(err, "FORBIDDEN") && (err as TRPCError).message === NO_TEAM_MESSAGE)
      redirect("/onboarding");
    throw err;
  }
}
