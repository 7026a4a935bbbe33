"use client";

import type { UseQueryResult } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { CheckCircle2, CircleSlash, CornerDownRight } from "lucide-react";
import Link from "next/link";
import { LoadingRows } from "@/components/console/states";
import { Alert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
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
import { formatDuration, formatMoney, shortId, subtractMicros } from "@/lib/format";
import type { AppRouter } from "@/server/trpc/root";

type Out = inferRouterOutputs<AppRouter>;
type Preview = Out["sandboxes"]["preview"];
type Balance = Out["credits"]["balance"];

function Verdict({ c, chosen }: { c: Preview["candidates"][number]; chosen: string | null }) {
  if (c.extensionId === chosen)
    return (
      <Badge variant="success">
        <CheckCircle2 aria-hidden className="size-3" /> chosen
      </Badge>
    );
  if (c.eligible)
    return (
      <Badge variant="info">
        <CornerDownRight aria-hidden className="size-3" /> fallback
      </Badge>
    );
  return (
    <Badge variant="secondary">
      <CircleSlash aria-hidden className="size-3" /> skipped
    </Badge>
  );
}

/** The estimate per provider, routing's choice and why others are skipped, and credits after the hold. */
export function CreatePreview({
  preview,
  balance,
  hasInputError,
  canTopUp,
}: {
  preview: UseQueryResult<Preview, unknown>;
  balance: UseQueryResult<Balance, unknown>;
  hasInputError: boolean;
  /** Owners and admins top up themselves; everyone else asks one of them. */
  canTopUp: boolean;
}) {
  const p = preview.data;
  const after =
    p && balance.data ? subtractMicros(balance.data.availableMicros, p.holdMicros) : null;
  const short = after !== null && after.startsWith("-");
  return (
    <Card aria-live="polite" aria-label="Estimate and routing">
      <CardHeader>
        <CardTitle>Estimate and routing</CardTitle>
        <CardDescription>
          {p
            ? `Strategy "${p.strategy}" over the profile's route, for ${formatDuration(p.ttlSeconds)}.`
            : "What each eligible provider would cost for this TTL."}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {hasInputError ? (
          <p className="text-sm text-muted-foreground">
            Fix the highlighted field to see the estimate.
          </p>
        ) : preview.isError ? (
          <Alert variant="destructive">{toSafeError(preview.error).message}</Alert>
        ) : !p ? (
          <LoadingRows rows={3} label="Loading estimate" />
        ) : (
          <>
            <Table aria-label="Providers on the route">
              <TableHeader>
                <TableRow>
                  <TableHead>Provider</TableHead>
                  <TableHead className="text-right">Estimate</TableHead>
                  <TableHead>Routing</TableHead>
                  <TableHead>Why</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {p.candidates.map((c) => (
                  <TableRow key={c.extensionId} data-extension={c.extensionId}>
                    <TableCell className="font-medium">{shortId(c.extensionId)}</TableCell>
                    <TableCell className="text-right tabular-nums">
                      {c.estimateMicros ? formatMoney(c.estimateMicros) : "—"}
                    </TableCell>
                    <TableCell>
                      <Verdict c={c} chosen={p.chosenExtensionId} />
                    </TableCell>
                    <TableCell className="min-w-48 whitespace-normal text-xs text-muted-foreground [overflow-wrap:anywhere]">
                      {c.eligible && c.extensionId !== p.chosenExtensionId
                        ? "eligible; used if the chosen provider fails"
                        : c.reason}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            {p.chosenExtensionId ? null : (
              <Alert variant="destructive">
                No provider on this route can take the request right now.
              </Alert>
            )}
            <dl className="grid grid-cols-1 gap-3 rounded-lg bg-muted/50 p-4 text-sm sm:grid-cols-3">
              <div>
                <dt className="text-muted-foreground">Hold</dt>
                <dd className="text-lg font-semibold tabular-nums" data-testid="preview-hold">
                  {formatMoney(p.holdMicros)}
                </dd>
              </div>
              <div>
                <dt className="text-muted-foreground">Available now</dt>
                <dd className="text-lg font-semibold tabular-nums">
                  {balance.data ? formatMoney(balance.data.availableMicros) : "—"}
                </dd>
              </div>
              <div>
                <dt className="text-muted-foreground">Left after hold</dt>
                <dd
                  className={`text-lg font-semibold tabular-nums ${short ? "text-destructive" : ""}`}
                  data-testid="preview-after-hold"
                >
                  {after !== null ? formatMoney(after) : "—"}
                </dd>
              </div>
            </dl>
            <p className="text-xs text-muted-foreground">
              The hold covers the dearest provider routing might fall back to; you pay only for the
              time the sandbox actually runs.
            </p>
            {short ? (
              <Alert variant="destructive" data-testid="preview-short">
                Not enough credits for this hold.{" "}
                {canTopUp ? (
                  <>
                    <Link href="/credits" className="font-medium underline underline-offset-4">
                      Top up on the Credits page
                    </Link>
                    , or choose a shorter TTL.
                  </>
                ) : (
                  "Ask an owner or admin of your team to top up, or choose a shorter TTL."
                )}
              </Alert>
            ) : null}
          </>
        )}
      </CardContent>
    </Card>
  );
}
