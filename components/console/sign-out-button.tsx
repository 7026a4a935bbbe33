"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { authClient } from "@/lib/auth-client";

export function SignOutButton({ className, icon }: { className?: string; icon?: ReactNode }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const [pending, setPending] = useState(false);
  return (
    <Button
      variant="ghost"
      size="sm"
      className={className}
      disabled={pending}
      onClick={async () => {
        setPending(true);
        await authClient.signOut().catch(() => undefined);
        // Nothing cached for this person may be shown to the next one.
        queryClient.clear();
        router.replace("/sign-in");
        router.refresh();
      }}
    >
      {icon}
      Sign out
    </Button>
  );
}
