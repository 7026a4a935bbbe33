import { Badge } from "@/components/ui/badge";

const variantOf: Record<
  string,
  "info" | "success" | "warning" | "secondary" | "destructive" | "outline"
> = {
  requested: "info",
  provisioning: "info",
  ready: "success",
  destroying: "warning",
  destroyed: "secondary",
  failed: "destructive",
  lost: "destructive",
};

export function StateBadge({ state }: { state: string }) {
  const live = state === "requested" || state === "provisioning" || state === "destroying";
  return (
    <Badge variant={variantOf[state] ?? "outline"} data-state={state}>
      {live ? (
        <span className="size-1.5 animate-pulse rounded-full bg-current" aria-hidden />
      ) : null}
      {state}
    </Badge>
  );
}
