import type { Metadata } from "next";
import { AuthPage } from "@/components/console/auth-page";

export const metadata: Metadata = { title: "Sign up" };

export default function SignUpPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  return <AuthPage mode="sign-up" searchParams={searchParams} />;
}
