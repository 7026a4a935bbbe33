"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useConsole } from "@/components/console/console-context";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { Alert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { formatDuration, formatTime, shortId } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";

const KIND_LABEL = { orphan: "orphan", lost: "lost", listing_failed: "listing failed" } as const;
const KIND_VARIANT = { orphan: "warning", lost: "destructive", listing_failed: "outline" } as const;

/**
 * What the reconciler found on the providers about this team, and what it did: provider
 * sandboxes with no live ledger row (killed, with how long they had run) and ready sandboxes
 * the provider no longer had (marked lost, billed to when last seen). Admins only.
 */
export function ReconcilerFindings() {
  const trpc = useTRPC();
  const { can } = useConsole();
  const findings = useInfiniteQuery(
    trpc.reconciler.findings.infiniteQueryOptions(
      { limit: 50 },
      { enabled: can.admin, getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );

  if (!can.admin) {
    return <Alert>Only owners and admins can see what the reconciler found.</Alert>;
  }
  const pages = findings.data?.pages ?? [];
  const summary = pages[0]?.summary;
  const items = pages.flatMap((p) => p.items);

  return (
    <div className="grid gap-6">
      <Card>
        <CardHeader>
          <CardTitle>Reconciler</CardTitle>
          <CardDescription>
            Every minute or so Sandboxer lists each provider&apos;s sandboxes and compares them with
            its ledger. A provider sandbox with no live sandbox behind it is an <em>orphan</em>: it
            is killed, and how long it had run is recorded. A ready sandbox the provider no longer
            has is marked <em>lost</em> and billed to when it was last seen running.
          </CardDescription>
        </CardHeader>
        <CardContent>
          {summary ? (
            <dl className="grid grid-cols-3 gap-4 text-sm" aria-label="Reconciler summary">
              <div>
                <dt className="text-muted-foreground">Orphans killed</dt>
                <dd className="text-2xl font-semibold tabular-nums">{summary.orphan}</dd>
              </div>
              <div>
                <dt className="text-muted-foreground">Marked lost</dt>
                <dd className="text-2xl font-semibold tabular-nums">{summary.lost}</dd>
              </div>
              <div>
                <dt className="text-muted-foreground">Last finding</dt>
                <dd className="text-sm">{summary.lastAt ? formatTime(summary.lastAt) : "none so far"}</dd>
              </div>
            </dl>
          ) : null}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Findings</CardTitle>
          <CardDescription>Newest first. Only findings about this team&apos;s sandboxes.</CardDescription>
        </CardHeader>
        <CardContent className="grid gap-3">
          {findings.isError ? (
            <ErrorState
              error={findings.error}
              onRetry={() => void findings.refetch()}
              title="Could not load the reconciler's findings"
            />
          ) : findings.isPending ? (
            <LoadingRows rows={3} label="Loading findings" />
          ) : items.length === 0 ? (
            <EmptyState title="Nothing found">
              Every provider sandbox matched the ledger. Findings appear here when the reconciler
              kills an orphan or marks a sandbox lost.
            </EmptyState>
          ) : (
            <>
              <Table aria-label="Reconciler findings">
                <TableHeader>
                  <TableRow>
                    <TableHead>Found</TableHead>
                    <TableHead>Kind</TableHead>
                    <TableHead>Provider</TableHead>
                    <TableHead>Sandbox</TableHead>
                    <TableHead>Provider sandbox</TableHead>
                    <TableHead>Had run</TableHead>
                    <TableHead>What it did</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {items.map((f) => (
                    <TableRow key={f.id}>
                      <TableCell className="text-xs whitespace-nowrap">{formatTime(f.at)}</TableCell>
                      <TableCell>
                        <Badge variant={KIND_VARIANT[f.kind]}>{KIND_LABEL[f.kind]}</Badge>
                      </TableCell>
                      <TableCell className="text-xs">{shortId(f.extensionId)}</TableCell>
                      <TableCell className="font-mono text-xs">
                        {f.sandboxId && f.detail !== "no ledger row" ? (
                          <Link href={`/sandboxes/${f.sandboxId}`} className="underline-offset-2 hover:underline">
                            {f.sandboxId}
                          </Link>
                        ) : (
                          (f.sandboxId ?? "—")
                        )}
                      </TableCell>
                      <TableCell className="max-w-48 font-mono text-xs whitespace-normal break-all">
                        {f.providerSandboxId ?? "—"}
                      </TableCell>
                      <TableCell className="text-xs tabular-nums">
                        {f.observedRunMs !== null ? formatDuration(f.observedRunMs / 1000) : "—"}
                      </TableCell>
                      <TableCell className="min-w-56 whitespace-normal text-xs [overflow-wrap:anywhere]">
                        {f.action}
                        {f.detail ? <span className="text-muted-foreground"> — {f.detail}</span> : null}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
              {findings.hasNextPage ? (
                <Button
                  variant="outline"
                  size="sm"
                  className="justify-self-start"
                  disabled={findings.isFetchingNextPage}
                  onClick={() => void findings.fetchNextPage()}
                >
                  {findings.isFetchingNextPage ? "Loading…" : "Show older findings"}
                </Button>
              ) : null}
            </>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
