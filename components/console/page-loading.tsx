import { Skeleton } from "@/components/ui/skeleton";

/** The skeleton shown while a page's server-side reads run (used by loading.tsx files). */
export function PageLoading() {
  return (
    <div role="status" aria-label="Loading page" className="grid gap-4">
      <Skeleton className="h-8 w-48" />
      <Skeleton className="h-4 w-80" />
      <Skeleton className="mt-4 h-64 w-full" />
      <span className="sr-only">Loading…</span>
    </div>
  );
}
