"use client";

import { AlertTriangle } from "lucide-react";
import { Button } from "@/components/ui/button";

/**
 * A page that failed on the server. Next.js strips server error messages in production; we
 * show none at all, only the digest that matches the server log line.
 */
export default function ConsoleError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <div
      role="alert"
      className="mx-auto flex max-w-md flex-col items-center gap-3 py-16 text-center"
    >
      <AlertTriangle className="size-8 text-destructive" aria-hidden />
      <h1 className="text-xl font-semibold">This page could not be loaded</h1>
      <p className="text-sm text-muted-foreground">
        Something went wrong on our side. Try again; if it keeps happening, tell your administrator
        {error.digest ? ` (reference ${error.digest})` : ""}.
      </p>
      <Button variant="outline" onClick={reset}>
        Try again
      </Button>
    </div>
  );
}
