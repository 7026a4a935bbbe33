import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthForm } from "@/components/console/auth-form";
import { safeNext } from "@/lib/safe-next";
import { getCaller } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "Sign up" };

export default async function SignUpPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string }>;
}) {
  const { next } = await searchParams;
  // Already signed in: the same as the sign-in page does, on to the console.
  const signedIn = await getCaller()
    .then((c) => c.teams.current())
    .then(() => true)
    .catch(() => false);
  if (signedIn) redirect(safeNext(next));
  return <AuthForm mode="sign-up" next={next} />;
}
