import { TRPCError } from "@trpc/server";
import { headers } from "next/headers";
import { cache } from "react";
import { createContext } from "@/server/trpc/context";
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
