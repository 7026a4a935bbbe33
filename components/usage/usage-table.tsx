"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Download } from "lucide-react";
import Link from "next/link";
import { useEffect, useState } from "react";
import { useConsole } from "@/components/console/console-context";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { Button } from "@/components/ui/button";
import { CursorPager } from "@/components/ui/cursor-pager";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { formatDuration, formatMoney, formatTime, shortId } from "@/lib/format";
import { canExportUsage } from "@/lib/roles";
import { usageListBounds } from "@/lib/usage-range";
import { useTRPC, useTRPCClient } from "@/lib/trpc";
import { buildUsageCsv, USAGE_CSV_MAX_ROWS } from "@/lib/usage-csv";

/** One row per ended sandbox, newest first, in cursor pages; exportable as CSV. */
export function UsageTable({ from, to }: { from: string; to: string }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  // The same rule as the Exports page: members may read usage but not export it.
  const mayExport = canExportUsage(useConsole().role);
  const [trail, setTrail] = useState<string[]>([]);
  const [exporting, setExporting] = useState<"idle" | "busy" | "failed" | "too-many">("idle");
  useEffect(() => setTrail([]), [from, to]);
  const cursor = trail.at(-1);
  // usage.list's `to` is exclusive; the page's range is whole days, end inclusive.
  const input = usageListBounds({ from, to });
  const usage = useQuery(
    trpc.usage.list.queryOptions(
      { ...input, cursor, limit: 25 },
      { placeholderData: keepPreviousData },
    ),
  );

  async function exportCsv() {
    setExporting("busy");
    try {
      const result = await buildUsageCsv((after) =>
        client.usage.list.query({ ...input, cursor: after, limit: 500 }),
      );
      if (!result.ok) {
        setExporting("too-many");
        return;
      }
      const url = URL.createObjectURL(new Blob([result.csv], { type: "text/csv" }));
      const a = Object.assign(document.createElement("a"), {
        href: url,
        download: `usage-${from}-to-${to}.csv`,
      });
      a.click();
      URL.revokeObjectURL(url);
      setExporting("idle");
    } catch {
      setExporting("failed");
    }
  }

  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle>Usage records</CardTitle>
          <CardDescription>
            {usage.data
              ? `${usage.data.totals.count} in range, ${formatMoney(usage.data.totals.costMicros)} in total.`
              : "Every ended sandbox in the range."}
          </CardDescription>
        </div>
        {mayExport ? (
          <div className="flex flex-col items-end gap-1">
            <Button
              variant="outline"
              size="sm"
              onClick={() => void exportCsv()}
              disabled={exporting === "busy" || !usage.data?.items.length}
            >
              <Download aria-hidden /> {exporting === "busy" ? "Exporting…" : "Export CSV"}
            </Button>
            {exporting === "failed" ? (
              <p role="alert" className="text-xs text-destructive">
                The export did not finish. Try again.
              </p>
            ) : exporting === "too-many" ? (
              <p role="alert" className="max-w-xs text-xs text-destructive">
                More than {USAGE_CSV_MAX_ROWS.toLocaleString("en-US")} records in this range, too
                many for this button. Use{" "}
                <Link href="/exports" className="underline">
                  Exports
                </Link>{" "}
                for the whole range, or pick a shorter one.
              </p>
            ) : null}
          </div>
        ) : (
          <p className="max-w-xs text-xs text-muted-foreground" data-testid="usage-export-refused">
            Your role cannot export usage. Owners, admins and finance members can.
          </p>
        )}
      </CardHeader>
      <CardContent className="grid gap-3">
        {usage.isError && !usage.data ? (
          <ErrorState
            error={usage.error}
            onRetry={() => void usage.refetch()}
            title="Could not load usage records"
          />
        ) : usage.isPending ? (
          <LoadingRows label="Loading usage records" />
        ) : usage.data.items.length === 0 ? (
          <EmptyState title="No usage in this range">
            Sandboxes appear here once they have ended and been charged.
          </EmptyState>
        ) : (
          <Table aria-label="Usage records">
            <TableHeader>
              <TableRow>
                <TableHead>Sandbox</TableHead>
                <TableHead>Profile</TableHead>
                <TableHead title="Extension, and the rate card it charged at">Extension</TableHead>
                <TableHead>Ended</TableHead>
                <TableHead>Ran for</TableHead>
                <TableHead>End reason</TableHead>
                <TableHead className="text-right">Cost</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {usage.data.items.map((u) => (
                <TableRow key={u.id}>
                  <TableCell>
                    <Link
                      href={`/sandboxes/${u.sandboxId}`}
                      className="font-mono text-xs underline-offset-4 hover:underline"
                    >
                      {u.sandboxId}
                    </Link>
                  </TableCell>
                  <TableCell>{shortId(u.profileId)}</TableCell>
                  <TableCell>
                    {shortId(u.extensionId)}
                    <div className="text-xs text-muted-foreground">{u.rateCardVersion}</div>
                  </TableCell>
                  <TableCell className="text-xs">{formatTime(u.endedAt)}</TableCell>
                  <TableCell className="tabular-nums">
                    {formatDuration(u.durationMs / 1000)}
                  </TableCell>
                  <TableCell className="min-w-24 whitespace-normal text-xs">
                    {u.endReason}
                  </TableCell>
                  <TableCell className="text-right tabular-nums">
                    {formatMoney(u.costMicros)}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
        <CursorPager
          label="Usage pages"
          trail={trail}
          setTrail={setTrail}
          nextCursor={usage.data?.nextCursor}
          backLabel="Newer"
          forwardLabel="Older"
        />
      </CardContent>
    </Card>
  );
}
