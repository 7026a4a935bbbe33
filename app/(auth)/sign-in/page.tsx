import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthForm } from "@/components/console/auth-form";
import { safeNext } from "@/lib/safe-next";
import { getCaller } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string }>;
}) {
  const { next } = await searchParams;
  const signedIn = await getCaller()
    .then((c) => c.teams.current())
    .then(() => true)
    .catch(() => false);
  if (signedIn) redirect(safeNext(next));
  return <AuthForm mode="sign-in" next={next} />;
}
