"use client";

import { ChevronLeft, ChevronRight } from "lucide-react";
import { Button } from "@/components/ui/button";

/** Back/forward buttons and the page number; hidden when there is only one page. */
export function Pager(props: {
  label: string;
  page: number;
  onBack: (() => void) | null;
  onForward: (() => void) | null;
  backLabel: string;
  forwardLabel: string;
}) {
  const { page, onBack, onForward } = props;
  if (page <= 1 && !onForward) return null;
  return (
    <nav aria-label={props.label} className="flex flex-wrap items-center justify-end gap-2">
      <span className="mr-2 text-sm text-muted-foreground">Page {page}</span>
      <Button variant="outline" size="sm" disabled={!onBack} onClick={() => onBack?.()}>
        <ChevronLeft aria-hidden /> {props.backLabel}
      </Button>
      <Button variant="outline" size="sm" disabled={!onForward} onClick={() => onForward?.()}>
        {props.forwardLabel} <ChevronRight aria-hidden />
      </Button>
    </nav>
  );
}

/**
 * A Pager over a cursor-paginated list kept in memory. `trail` holds the cursors of the pages
 * visited so far (the current page's cursor last).
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
  return (
    <Pager
      label={props.label}
      page={trail.length + 1}
      onBack={trail.length > 0 ? () => setTrail(trail.slice(0, -1)) : null}
      onForward={nextCursor ? () => setTrail([...trail, nextCursor]) : null}
      backLabel={props.backLabel}
      forwardLabel={props.forwardLabel}
    />
  );
}
