"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RotateCw, Send } from "lucide-react";
import { useState } from "react";
import { useConsole } from "@/components/console/console-context";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
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
import { toSafeError } from "@/lib/errors";
import { formatMoney, formatTime } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";

type Filter = "dead" | "pending" | "sent" | "all";
const FILTERS: [Filter, string][] = [
  ["dead", "Failed"],
  ["pending", "In flight"],
  ["sent", "Delivered"],
  ["all", "All"],
];
const statusVariant = { pending: "info", sent: "success", dead: "destructive" } as const;
const statusLabel = { pending: "in flight", sent: "delivered", dead: "failed" } as const;

/**
 * fin-hub delivery of this team's usage records: reconciliation (ledger vs exported), and the
 * batches holding the team's records — failed ones first, with the last error. Owners and
 * admins can retry a failed batch or re-send a delivered one (same id, same bytes).
 */
export function FinHubBatches() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can } = useConsole();
  const [filter, setFilter] = useState<Filter>("dead");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const status = useQuery(trpc.finHub.status.queryOptions(undefined, { refetchInterval: 5_000 }));
  const batches = useQuery(
    trpc.finHub.batches.queryOptions(
      { status: filter === "all" ? undefined : filter, limit: 50 },
      { refetchInterval: 5_000 },
    ),
  );
  const retry = useMutation(trpc.finHub.retry.mutationOptions());
  const resend = useMutation(trpc.finHub.resend.mutationOptions());

  async function requeue(id: string, mode: "retry" | "resend") {
    setMessage(null);
    try {
      await (mode === "retry" ? retry : resend).mutateAsync({ id });
      setMessage({
        ok: true,
        text: `Batch ${id} is queued again (same id, same bytes); the next export pass sends it.`,
      });
      await queryClient.invalidateQueries({ queryKey: trpc.finHub.pathKey() });
    } catch (err) {
      setMessage({ ok: false, text: toSafeError(err).message });
    }
  }

  const s = status.data;
  return (
    <Card>
      <CardHeader>
        <CardTitle>fin-hub delivery</CardTitle>
        <CardDescription>
          {s
            ? s.host
              ? `Usage records are sent to ${s.host} in signed batches every ${Math.round((s.intervalMs ?? 0) / 1000)} s; a batch that fails ${s.attempts} times is held here until someone retries it.`
              : "The fin-hub export is off on this installation (SANDBOXER_FIN_HUB_URL is not set); records wait in the outbox until it is turned on."
            : "Where your usage records stand on their way to fin-hub."}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {s ? (
          <dl className="grid gap-3 sm:grid-cols-5" aria-label="fin-hub reconciliation">
            {(
              [
                ["Ledger debits", s.ledgerDebitMicros, null, "fin-hub-ledger"],
                ["Delivered", s.exported.micros, s.exported.records, "fin-hub-exported"],
                ["In flight", s.inFlight.micros, s.inFlight.records, "fin-hub-in-flight"],
                ["Failed", s.dead.micros, s.dead.records, "fin-hub-dead"],
                ["Not yet batched", s.unbatched.micros, s.unbatched.records, "fin-hub-unbatched"],
              ] as const
            ).map(([label, micros, records, id]) => (
              <div key={label} className="rounded-md border p-3">
                <dt className="text-xs text-muted-foreground">{label}</dt>
                <dd className="text-lg font-semibold tabular-nums" data-testid={id}>
                  {formatMoney(micros)}
                </dd>
                {records !== null ? (
                  <dd className="text-xs text-muted-foreground">
                    {records} record{records === 1 ? "" : "s"}
                  </dd>
                ) : null}
              </div>
            ))}
          </dl>
        ) : status.isError ? (
          <ErrorState error={status.error} title="Could not load fin-hub status" />
        ) : (
          <LoadingRows rows={1} label="Loading fin-hub status" />
        )}

        <div className="flex flex-wrap gap-2" role="group" aria-label="Batch status">
          {FILTERS.map(([f, label]) => (
            <Button
              key={f}
              size="sm"
              variant={filter === f ? "default" : "outline"}
              aria-pressed={filter === f}
              onClick={() => setFilter(f)}
            >
              {label}
            </Button>
          ))}
        </div>
        {message ? (
          <p
            role={message.ok ? "status" : "alert"}
            className={message.ok ? "text-sm" : "text-sm text-destructive"}
          >
            {message.text}
          </p>
        ) : null}

        {batches.isError ? (
          <ErrorState
            error={batches.error}
            onRetry={() => void batches.refetch()}
            title="Could not load batches"
          />
        ) : batches.isPending ? (
          <LoadingRows label="Loading batches" />
        ) : batches.data.items.length === 0 ? (
          <EmptyState title={filter === "dead" ? "No failed batches" : "No batches"}>
            {filter === "dead"
              ? "Every batch with your records got through or is still being retried."
              : "Batches appear once your sandboxes' usage is exported."}
          </EmptyState>
        ) : (
          <Table aria-label="fin-hub batches">
            <TableHeader>
              <TableRow>
                <TableHead>Seq</TableHead>
                <TableHead>Batch</TableHead>
                <TableHead>Status</TableHead>
                <TableHead className="text-right">Your records</TableHead>
                <TableHead className="text-right">Your total</TableHead>
                <TableHead>Attempts</TableHead>
                <TableHead>Last error</TableHead>
                <TableHead />
              </TableRow>
            </TableHeader>
            <TableBody>
              {batches.data.items.map((b) => (
                <TableRow key={b.id} data-batch-id={b.id}>
                  <TableCell className="tabular-nums">{b.seq}</TableCell>
                  <TableCell className="font-mono text-xs">
                    {b.id}
                    <div className="font-sans text-muted-foreground">
                      {formatTime(b.sentAt ?? b.deadAt ?? b.createdAt)}
                    </div>
                  </TableCell>
                  <TableCell>
                    <Badge variant={statusVariant[b.status]}>{statusLabel[b.status]}</Badge>
                    {b.status === "pending" && b.nextAttemptAt ? (
                      <div className="text-xs text-muted-foreground">
                        next try {formatTime(b.nextAttemptAt)}
                      </div>
                    ) : null}
                  </TableCell>
                  <TableCell className="text-right tabular-nums">{b.teamRecords}</TableCell>
                  <TableCell className="text-right tabular-nums">
                    {formatMoney(b.teamCostMicros)}
                  </TableCell>
                  <TableCell className="tabular-nums">
                    {b.attempts}
                    {b.requeueCount ? ` (requeued ${b.requeueCount}×)` : ""}
                  </TableCell>
                  <TableCell className="min-w-48 max-w-xs whitespace-normal text-xs text-destructive [overflow-wrap:anywhere]">
                    {b.lastError ?? ""}
                  </TableCell>
                  <TableCell className="text-right">
                    {can.admin && b.status === "dead" ? (
                      <Button
                        size="sm"
                        variant="outline"
                        disabled={retry.isPending}
                        onClick={() => void requeue(b.id, "retry")}
                      >
                        <RotateCw aria-hidden /> Retry
                      </Button>
                    ) : null}
                    {can.admin && b.status === "sent" ? (
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={resend.isPending}
                        onClick={() => void requeue(b.id, "resend")}
                        title="fin-hub lost it? Send the same batch again; fin-hub dedupes by batch id."
                      >
                        <Send aria-hidden /> Re-send
                      </Button>
                    ) : null}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}
