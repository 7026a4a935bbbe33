"use client";

import "./globals.css";

/** Last resort when the root layout itself fails: a plain page, no error details. */
export default function GlobalError({
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <html lang="en">
      <body className="flex min-h-screen items-center justify-center p-6 font-sans">
        <div role="alert" className="max-w-md text-center">
          <h1 className="text-xl font-semibold">Sandboxer is having trouble</h1>
          <p className="mt-2 text-sm text-muted-foreground">
            The page could not be shown. Please try again in a moment.
          </p>
          <button
            type="button"
            onClick={reset}
            className="mt-4 rounded-md border px-4 py-2 text-sm"
          >
            Try again
          </button>
        </div>
      </body>
    </html>
  );
}
