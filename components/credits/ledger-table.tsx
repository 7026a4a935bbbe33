"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { Badge } from "@/components/ui/badge";
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
import { formatMoney, formatTime, MINUS } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";

const kindLabel: Record<
  string,
  {
    label: string;
    variant: "success" | "secondary" | "outline" | "warning" | "destructive";
    sign: string;
  }
> = {
  topup: { label: "top-up", variant: "success", sign: "+" },
  hold: { label: "hold", variant: "outline", sign: "" },
  hold_grow: { label: "hold grown", variant: "outline", sign: "" },
  hold_release: { label: "hold released", variant: "secondary", sign: "" },
  debit: { label: "debit", variant: "destructive", sign: MINUS },
};

/** Every credit movement, newest first, in cursor pages. Holds move no money; debits and top-ups do. */
export function LedgerTable({ live }: { live: boolean }) {
  const trpc = useTRPC();
  const [trail, setTrail] = useState<string[]>([]);
  const cursor = trail.at(-1);
  const ledger = useQuery(
    trpc.credits.ledger.queryOptions(
      { cursor, limit: 25 },
      { placeholderData: keepPreviousData, refetchInterval: live && !cursor ? 3_000 : false },
    ),
  );

  return (
    <Card>
      <CardHeader>
        <CardTitle>Ledger</CardTitle>
        <CardDescription>Top-ups, holds, releases and debits, exactly as recorded.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-3">
        {ledger.isError && !ledger.data ? (
          <ErrorState
            error={ledger.error}
            onRetry={() => void ledger.refetch()}
            title="Could not load the ledger"
          />
        ) : ledger.isPending ? (
          <LoadingRows label="Loading ledger" />
        ) : ledger.data.items.length === 0 ? (
          <EmptyState title="No ledger entries yet">
            Top-ups and sandbox charges appear here.
          </EmptyState>
        ) : (
          <Table aria-label="Ledger entries">
            <TableHeader>
              <TableRow>
                <TableHead>When</TableHead>
                <TableHead>Kind</TableHead>
                <TableHead>Sandbox</TableHead>
                <TableHead>Note</TableHead>
                <TableHead className="text-right">Amount</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {ledger.data.items.map((l) => {
                const k = kindLabel[l.kind] ?? {
                  label: l.kind,
                  variant: "outline" as const,
                  sign: "",
                };
                return (
                  <TableRow
                    key={l.id}
                    data-kind={l.kind}
                    data-sandbox-id={l.sandboxId ?? undefined}
                  >
                    <TableCell className="text-xs">{formatTime(l.createdAt)}</TableCell>
                    <TableCell>
                      <Badge variant={k.variant}>{k.label}</Badge>
                    </TableCell>
                    <TableCell>
                      {l.sandboxId ? (
                        <Link
                          href={`/sandboxes/${l.sandboxId}`}
                          className="font-mono text-xs underline-offset-4 hover:underline"
                        >
                          {l.sandboxId}
                        </Link>
                      ) : (
                        "—"
                      )}
                    </TableCell>
                    <TableCell className="max-w-64 truncate text-xs text-muted-foreground">
                      {l.note ?? ""}
                    </TableCell>
                    <TableCell className="text-right tabular-nums">
                      {k.sign}
                      {formatMoney(l.amountMicros)}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        )}
        <CursorPager
          label="Ledger pages"
          trail={trail}
          setTrail={setTrail}
          nextCursor={ledger.data?.nextCursor}
          backLabel="Newer"
          forwardLabel="Older"
        />
      </CardContent>
    </Card>
  );
}
