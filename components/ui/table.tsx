import type { ComponentProps } from "react";
import { cn } from "@/lib/utils";

/**
 * A table scrolls sideways inside its own box when it is wider than the space it has. The box
 * contains its inline size, so a wide table never widens the card, grid or page around it
 * (grid and flex items would otherwise grow to the table's minimum width and the whole page
 * would scroll sideways).
 */
export function Table({ className, ...props }: ComponentProps<"table">) {
  return (
    <div className="relative w-full overflow-x-auto [contain:inline-size]">
      <table className={cn("w-full caption-bottom text-sm", className)} {...props} />
    </div>
  );
}

export const TableHeader = ({ className, ...props }: ComponentProps<"thead">) => (
  <thead className={cn("[&_tr]:border-b", className)} {...props} />
);
export const TableBody = ({ className, ...props }: ComponentProps<"tbody">) => (
  <tbody className={cn("[&_tr:last-child]:border-0", className)} {...props} />
);
export const TableRow = ({ className, ...props }: ComponentProps<"tr">) => (
  <tr className={cn("border-b transition-colors hover:bg-muted/50", className)} {...props} />
);
export const TableHead = ({ className, ...props }: ComponentProps<"th">) => (
  <th
    scope="col"
    className={cn(
      "h-10 px-3 text-left align-middle text-xs font-medium uppercase tracking-wide text-muted-foreground whitespace-nowrap",
      className,
    )}
    {...props}
  />
);
export const TableCell = ({ className, ...props }: ComponentProps<"td">) => (
  <td className={cn("px-3 py-2.5 align-middle whitespace-nowrap", className)} {...props} />
);
export const TableCaption = ({ className, ...props }: ComponentProps<"caption">) => (
  <caption className={cn("mt-3 text-sm text-muted-foreground", className)} {...props} />
);
