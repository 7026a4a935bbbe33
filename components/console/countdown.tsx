"use client";

import { useEffect, useState } from "react";
import { formatDuration } from "@/lib/format";

/**
 * The current time, ticking every `intervalMs` while `active`. Null until mounted, so the
 * server render and hydration agree (no clock on the server side of the comparison).
 */
export function useNow(active: boolean, intervalMs = 1000): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [active, intervalMs]);
  return now;
}

/** Time left until `expiresAt`, or a dash when there is no expiry (not started or ended). */
export function TtlCountdown({ expiresAt, now }: { expiresAt: string | null; now: number | null }) {
  if (!expiresAt || now === null) return <span className="text-muted-foreground">—</span>;
  const left = (new Date(expiresAt).getTime() - now) / 1000;
  if (left <= 0) return <span className="text-muted-foreground">expiring</span>;
  return (
    <span
      className={left < 60 ? "font-medium text-destructive tabular-nums" : "tabular-nums"}
      title={`expires ${expiresAt}`}
    >
      {formatDuration(left)}
    </span>
  );
}
