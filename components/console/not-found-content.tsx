import { SearchX } from "lucide-react";
import Link from "next/link";
import { buttonVariants } from "@/components/ui/button";

/**
 * One 404 for a missing page and for a resource of another team: the two must look the same,
 * so nothing tells a visitor that the other team's sandbox exists.
 */
export function NotFoundContent() {
  return (
    <div
      className="mx-auto flex max-w-md flex-col items-center gap-3 py-16 text-center"
      data-testid="not-found"
    >
      <SearchX className="size-10 text-muted-foreground" aria-hidden />
      <p className="text-sm font-medium text-muted-foreground">404</p>
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="text-sm text-muted-foreground">
        There is nothing here, or it belongs to a team you are not part of. Check the address, or
        switch teams.
      </p>
      <Link href="/sandboxes" className={buttonVariants({ variant: "outline" })}>
        Back to sandboxes
      </Link>
    </div>
  );
}
