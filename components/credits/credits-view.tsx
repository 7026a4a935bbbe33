"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useRef } from "react";
import { useConsole } from "@/components/console/console-context";
import { ErrorState, LoadingRows } from "@/components/console/states";
import { StateBadge } from "@/components/console/state-badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { formatMoney, formatTime, shortId } from "@/lib/format";
import { ACTIVE_STATES } from "@/lib/sandbox-states";
import { useTRPC } from "@/lib/trpc";
import { LedgerTable } from "./ledger-table";
import { TopUpForm } from "./top-up-form";

/** Polls only while something holds credits: that is when balance and ledger can change. */
const LIVE_MS = 3_000;

export function CreditsView() {
  const trpc = useTRPC();
  const { can } = useConsole();
  const holds = useQuery(
    trpc.sandboxes.list.queryOptions(
      { state: [...ACTIVE_STATES], limit: 100 },
      { refetchInterval: (q) => ((q.state.data?.items.length ?? 0) > 0 ? LIVE_MS : false) },
    ),
  );
  const live = (holds.data?.items.length ?? 0) > 0;
  const balance = useQuery(
    trpc.credits.balance.queryOptions(undefined, { refetchInterval: live ? LIVE_MS : false }),
  );
  // When the last hold ends, its debit has just landed: fetch once more, then stop polling.
  const queryClient = useQueryClient();
  const wasLive = useRef(false);
  useEffect(() => {
    if (wasLive.current && !live)
      void queryClient.invalidateQueries({ queryKey: trpc.credits.pathKey() });
    wasLive.current = live;
  }, [live, queryClient, trpc]);

  return (
    <div className="grid gap-6">
      <div className="grid gap-4 sm:grid-cols-3">
        {(
          [
            [
              "Balance",
              balance.data?.balanceMicros,
              "All credit, including what is held.",
              "balance",
            ],
            ["Held", balance.data?.heldMicros, "Reserved for sandboxes that are running.", "held"],
            [
              "Available",
              balance.data?.availableMicros,
              "What new sandboxes can use.",
              "available",
            ],
          ] as const
        ).map(([label, value, hint, id]) => (
          <Card key={label}>
            <CardHeader>
              <CardDescription>{label}</CardDescription>
              {balance.isError ? (
                <p className="text-sm text-destructive">Unavailable</p>
              ) : value === undefined ? (
                <Skeleton className="h-8 w-32" />
              ) : (
                <p className="text-3xl font-semibold tabular-nums" data-testid={`credits-${id}`}>
                  {formatMoney(value)}
                </p>
              )}
            </CardHeader>
            <CardContent className="text-xs text-muted-foreground">{hint}</CardContent>
          </Card>
        ))}
      </div>
      {can.admin ? <TopUpForm /> : null}
      <Card>
        <CardHeader>
          <CardTitle>Current holds</CardTitle>
          <CardDescription>
            Each live sandbox holds enough for its whole TTL; the unused part returns when it ends.
          </CardDescription>
        </CardHeader>
        <CardContent>
          {holds.isError ? (
            <ErrorState
              error={holds.error}
              onRetry={() => void holds.refetch()}
              title="Could not load holds"
            />
          ) : holds.isPending ? (
            <LoadingRows rows={2} label="Loading holds" />
          ) : holds.data.items.length === 0 ? (
            <p className="py-4 text-center text-sm text-muted-foreground">
              Nothing is held: no sandbox is running.
            </p>
          ) : (
            <Table aria-label="Current holds">
              <TableHeader>
                <TableRow>
                  <TableHead>Sandbox</TableHead>
                  <TableHead>State</TableHead>
                  <TableHead>Profile</TableHead>
                  <TableHead>Expires</TableHead>
                  <TableHead className="text-right">Held</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {holds.data.items.map((s) => (
                  <TableRow key={s.id}>
                    <TableCell>
                      <Link
                        href={`/sandboxes/${s.id}`}
                        className="font-mono text-xs underline-offset-4 hover:underline"
                      >
                        {s.id}
                      </Link>
                    </TableCell>
                    <TableCell>
                      <StateBadge state={s.state} />
                    </TableCell>
                    <TableCell>{shortId(s.profileId)}</TableCell>
                    <TableCell className="text-xs">{formatTime(s.expiresAt)}</TableCell>
                    <TableCell className="text-right tabular-nums">
                      {formatMoney(s.holdMicros)}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>
      <LedgerTable live={live} />
    </div>
  );
}
