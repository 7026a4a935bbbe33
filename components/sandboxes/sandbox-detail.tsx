"use client";

import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { ArrowLeft } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { TtlCountdown, useNow } from "@/components/console/countdown";
import { StateBadge } from "@/components/console/state-badge";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { formatDuration, formatMemory, formatMoney, formatTime, shortId } from "@/lib/format";
import { isTerminal } from "@/lib/sandbox-states";
import { useTRPC } from "@/lib/trpc";
import type { AppRouter } from "@/server/trpc/root";
import { SandboxActions } from "./sandbox-actions";
import { RoutingCard, TimelineCard } from "./sandbox-detail-cards";

export type SandboxDetailData = inferRouterOutputs<AppRouter>["sandboxes"]["get"];

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex justify-between gap-4 border-b py-2 text-sm last:border-0">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="min-w-0 text-right font-medium break-all">{children}</dd>
    </div>
  );
}

/**
 * One sandbox, kept live: polls every 2 s while its state can still change and stops once it
 * has ended (the page then shows the final cost), never in a hidden tab.
 */
export function SandboxDetail({ initial }: { initial: SandboxDetailData }) {
  const trpc = useTRPC();
  const query = useQuery(
    trpc.sandboxes.get.queryOptions(
      { id: initial.id },
      {
        initialData: initial,
        refetchInterval: (q) => (q.state.data && isTerminal(q.state.data.state) ? false : 2_000),
      },
    ),
  );
  const s = query.data ?? initial;
  const ended = isTerminal(s.state);
  const now = useNow(s.state === "ready");
  const r = s.resources;

  return (
    <div className="grid gap-6">
      <div>
        <Link
          href="/sandboxes"
          className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground"
        >
          <ArrowLeft className="size-4" aria-hidden /> Sandboxes
        </Link>
        <div className="mt-2 flex flex-wrap items-center justify-between gap-4">
          <div className="flex flex-wrap items-center gap-3">
            <h1 className="font-mono text-xl font-semibold">{s.id}</h1>
            <span aria-live="polite" data-testid="sandbox-state">
              <StateBadge state={s.state} />
            </span>
          </div>
          <SandboxActions sandbox={s} />
        </div>
      </div>

      {query.isError ? (
        <p role="alert" className="text-xs text-destructive">
          Live updates paused: the server did not answer. Retrying…
        </p>
      ) : null}
      {s.failureReason ? (
        <Alert variant="destructive">
          <AlertTitle>Failed</AlertTitle>
          <AlertDescription>{s.failureReason}</AlertDescription>
        </Alert>
      ) : null}
      {s.attentionReason ? (
        <Alert variant="destructive">
          <AlertTitle>Needs attention</AlertTitle>
          <AlertDescription>{s.attentionReason}</AlertDescription>
        </Alert>
      ) : null}

      <div className="grid gap-6 md:grid-cols-3">
        <Card>
          <CardHeader>
            <CardTitle>Cost</CardTitle>
          </CardHeader>
          <CardContent>
            <p className="text-3xl font-semibold tabular-nums" data-testid="sandbox-cost">
              {formatMoney(s.costMicros ?? s.costSoFarMicros ?? "0")}
            </p>
            <p className="mb-3 text-xs text-muted-foreground">
              {s.costMicros ? "final cost" : "cost so far"}
            </p>
            <dl>
              <Row label="Estimate for TTL">{formatMoney(s.estimateMicros)}</Row>
              <Row label="Held">{ended ? "released" : formatMoney(s.holdMicros)}</Row>
              <Row label="Rate card">{s.rateCardVersion ?? "—"}</Row>
            </dl>
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Lifetime</CardTitle>
          </CardHeader>
          <CardContent>
            <dl>
              <Row label="TTL">{formatDuration(s.ttlSeconds)}</Row>
              <Row label="Time left">
                <span data-testid="sandbox-ttl-left">
                  <TtlCountdown expiresAt={s.state === "ready" ? s.expiresAt : null} now={now} />
                </span>
              </Row>
              <Row label="Created">{formatTime(s.createdAt)}</Row>
              <Row label="Ready">{formatTime(s.readyAt)}</Row>
              <Row label="Expires">{formatTime(s.expiresAt)}</Row>
              <Row label="Ended">{formatTime(s.endedAt)}</Row>
            </dl>
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Resources</CardTitle>
          </CardHeader>
          <CardContent>
            <dl>
              <Row label="Profile">{shortId(s.profileId)}</Row>
              <Row label="Extension">{shortId(s.extensionId)}</Row>
              <Row label="Template">{s.template}</Row>
              <Row label="CPU / memory">
                {r.vcpu} vCPU · {formatMemory(r.memoryMiB)}
              </Row>
              <Row label="GPU">{r.gpu > 0 ? `${r.gpu}× ${r.gpuType}` : "none"}</Row>
              <Row label="Provider id">{s.providerSandboxId ?? "—"}</Row>
              <Row label="Credentials">{s.credentialSource ?? "—"}</Row>
            </dl>
          </CardContent>
        </Card>
      </div>
      <RoutingCard routing={s.routing} />
      <TimelineCard events={s.events} />
    </div>
  );
}
