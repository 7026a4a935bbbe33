"use client";

import { createContext, useContext, type ReactNode } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import { setPageTeam } from "@/lib/trpc";
import type { AppRouter } from "@/server/trpc/root";

export type CurrentSession = inferRouterOutputs<AppRouter>["teams"]["current"];

const ConsoleContext = createContext<CurrentSession | null>(null);

/**
 * The signed-in person, their active team and role, fetched once by the console layout on the
 * server. Client components read it to hide controls the role may not use; the API enforces
 * the same rules regardless.
 */
export function ConsoleProvider({
  value,
  children,
}: {
  value: CurrentSession;
  children: ReactNode;
}) {
  // During render, not in an effect: the page's own queries start before a parent's effects run.
  setPageTeam(value.team?.id ?? null);
  return <ConsoleContext.Provider value={value}>{children}</ConsoleContext.Provider>;
}

export function useConsole(): CurrentSession {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error("useConsole must be used inside the console layout");
  return value;
}
