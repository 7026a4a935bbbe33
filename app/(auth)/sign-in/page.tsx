import type { Metadata } from "next";
import { AuthPage } from "@/components/console/auth-page";

export const metadata: Metadata = { title: "Sign in" };

export default function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  return <AuthPage mode="sign-in" searchParams={searchParams} />;
}
