import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { AppShell } from "@/components/console/app-shell";
import { ConsoleProvider } from "@/components/console/console-context";
import { SignInRedirect } from "@/components/console/sign-in-redirect";
import { getCaller, isTRPCError } from "@/lib/trpc-server";

/** Every console page: signed in, in a team; the person and role are fetched once here. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const caller = await getCaller();
  const current = await caller.teams.current().catch((err: unknown) => {
    if (isTRPCError(err, "UNAUTHORIZED")) return null;
    throw err;
  });
  // Signed out: sign in, then come back to this page (the browser knows which one it is).
  if (!current) return <SignInRedirect />;
  if (!current.team || !current.role) redirect("/onboarding");
  return (
    <ConsoleProvider value={current}>
      <AppShell>{children}</AppShell>
    </ConsoleProvider>
  );
}
