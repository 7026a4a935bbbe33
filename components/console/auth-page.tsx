import { redirect } from "next/navigation";
import { AuthForm } from "@/components/console/auth-form";
import { safeNext } from "@/lib/safe-next";
import { getCaller } from "@/lib/trpc-server";

/** The sign-in and sign-up pages: someone already signed in goes on to `next` (on this site) or the console. */
export async function AuthPage({
  mode,
  searchParams,
}: {
  mode: "sign-in" | "sign-up";
  searchParams: Promise<{ next?: string }>;
}) {
  const { next } = await searchParams;
  const signedIn = await getCaller()
    .then((c) => c.teams.current())
    .then(() => true)
    .catch(() => false);
  if (signedIn) redirect(safeNext(next));
  return <AuthForm mode={mode} next={next} />;
}
