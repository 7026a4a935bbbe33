import { Terminal } from "lucide-react";
import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { CreateTeamForm } from "@/components/console/create-team-form";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { getCaller, isTRPCError } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "Your team" };

export default async function OnboardingPage() {
  const caller = await getCaller();
  const current = await caller.teams.current().catch((err: unknown) => {
    if (isTRPCError(err, "UNAUTHORIZED")) redirect("/sign-in");
    throw err;
  });
  return (
    <main className="flex min-h-screen flex-col items-center justify-center gap-6 bg-muted/40 p-6">
      <div className="text-center">
        <p className="flex items-center justify-center gap-2 text-xl font-semibold">
          <Terminal className="size-6" aria-hidden /> Sandboxer
        </p>
        <h1 className="mt-4 text-2xl font-semibold tracking-tight">
          Welcome{current.user.name ? `, ${current.user.name}` : ""}
        </h1>
        <p className="mt-1 text-sm text-muted-foreground">
          Sandboxes, credits and keys belong to a team. Start one, or join yours.
        </p>
      </div>
      <div className="grid w-full max-w-3xl gap-6 md:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle>Create a team</CardTitle>
            <CardDescription>You will be its owner and can add people and credits.</CardDescription>
          </CardHeader>
          <CardContent>
            <CreateTeamForm />
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Join a team</CardTitle>
            <CardDescription>An owner or admin adds you from Settings → Members.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-3 text-sm">
            <p>
              Ask them to add <strong className="break-all">{current.user.email}</strong>. Once they
              have, open the console.
            </p>
            {current.teams.length > 0 ? (
              <p className="text-muted-foreground">
                You are already in{" "}
                {current.teams.length === 1 ? "a team" : `${current.teams.length} teams`}.{" "}
                <Link
                  href="/sandboxes"
                  className="font-medium text-foreground underline underline-offset-4"
                >
                  Go to the console
                </Link>
              </p>
            ) : (
              <Link href="/sandboxes" className="font-medium underline underline-offset-4">
                I have been added — open the console
              </Link>
            )}
          </CardContent>
        </Card>
      </div>
    </main>
  );
}
