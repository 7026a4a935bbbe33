"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { safeNext } from "@/lib/safe-next";

/**
 * Sends a signed-out visitor to sign in, carrying the page they opened in `?next=` so that
 * signing in lands there. In the browser, because only the browser knows the address: the
 * console layout that notices the missing session is not told the path.
 */
export function SignInRedirect() {
  const router = useRouter();
  useEffect(() => {
    const next = safeNext(`${window.location.pathname}${window.location.search}`);
    router.replace(`/sign-in?next=${encodeURIComponent(next)}`);
  }, [router]);
  return (
    <p role="status" className="p-6 text-sm text-muted-foreground">
      You are signed out. Taking you to sign in…
    </p>
  );
}
