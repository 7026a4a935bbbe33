import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { AppShell } from "@/components/console/app-shell";
import { ConsoleProvider } from "@/components/console/console-context";
import { getCaller, isTRPCError } from "@/lib/trpc-server";

/** Every console page: signed in, in a team; the person and role are fetched once here. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const caller = await getCaller();
  const current = await caller.teams.current().catch((err: unknown) => {
    if (isTRPCError(err, "UNAUTHORIZED")) redirect("/sign-in");
    throw err;
  });
  if (!current.team || !current.role) redirect("/onboarding");
  return (
    <ConsoleProvider value={current}>
      <AppShell>{children}</AppShell>
    </ConsoleProvider>
  );
}
