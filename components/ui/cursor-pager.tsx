"use client";

import { ChevronLeft, ChevronRight } from "lucide-react";
import { Button } from "@/components/ui/button";

/**
 * Back/forward buttons over a cursor-paginated list. `trail` holds the cursors of the pages
 * visited so far (the current page's cursor last); hidden when there is only one page.
 */
export function CursorPager(props: {
  label: string;
  trail: string[];
  setTrail: (trail: string[]) => void;
  nextCursor: string | null | undefined;
  backLabel: string;
  forwardLabel: string;
}) {
  const { trail, setTrail, nextCursor } = props;
  if (trail.length === 0 && !nextCursor) return null;
  return (
    <nav aria-label={props.label} className="flex items-center justify-end gap-2">
      <span className="mr-2 text-sm text-muted-foreground">Page {trail.length + 1}</span>
      <Button
        variant="outline"
        size="sm"
        disabled={trail.length === 0}
        onClick={() => setTrail(trail.slice(0, -1))}
      >
        <ChevronLeft aria-hidden /> {props.backLabel}
      </Button>
      <Button
        variant="outline"
        size="sm"
        disabled={!nextCursor}
        onClick={() => nextCursor && setTrail([...trail, nextCursor])}
      >
        {props.forwardLabel} <ChevronRight aria-hidden />
      </Button>
    </nav>
  );
}
