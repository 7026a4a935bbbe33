import { EmptyState } from "@/components/console/states";
import { StateBadge } from "@/components/console/state-badge";
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
import { formatMoney, formatTime, shortId } from "@/lib/format";
import type { SandboxDetailData } from "./sandbox-detail";

const outcomeVariant = { chosen: "success", skipped: "secondary", failed: "destructive" } as const;

export function RoutingCard({ routing }: { routing: SandboxDetailData["routing"] }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>Routing decision</CardTitle>
        <CardDescription>
          {routing
            ? `Strategy "${routing.strategy}", decided ${formatTime(routing.decidedAt)}.`
            : "Routing runs when provisioning starts."}
        </CardDescription>
      </CardHeader>
      <CardContent>
        {!routing ? (
          <EmptyState title="Not routed yet" className="py-6" />
        ) : (
          <Table aria-label="Routing decision">
            <TableHeader>
              <TableRow>
                <TableHead>Provider</TableHead>
                <TableHead>Outcome</TableHead>
                <TableHead className="text-right">Estimate</TableHead>
                <TableHead>Reason</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {routing.candidates.map((c) => (
                <TableRow key={c.extensionId}>
                  <TableCell className="font-medium">{shortId(c.extensionId)}</TableCell>
                  <TableCell>
                    <Badge variant={outcomeVariant[c.outcome]}>{c.outcome}</Badge>
                  </TableCell>
                  <TableCell className="text-right tabular-nums">
                    {c.estimateMicros ? formatMoney(c.estimateMicros) : "—"}
                  </TableCell>
                  <TableCell className="min-w-48 whitespace-normal text-xs text-muted-foreground [overflow-wrap:anywhere]">
                    {c.reason}
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

/** Every event in order: state changes with from → to, and other events (extend, destroy request). */
export function TimelineCard({ events }: { events: SandboxDetailData["events"] }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>Timeline</CardTitle>
        <CardDescription>Every state change, with its time and reason.</CardDescription>
      </CardHeader>
      <CardContent>
        {events.length === 0 ? (
          <EmptyState title="No events yet" className="py-6" />
        ) : (
          <ol className="relative grid gap-4 border-l pl-6" aria-label="Event timeline">
            {events.map((e) => (
              <li key={e.id} className="relative" data-event-kind={e.kind}>
                <span
                  className="absolute -left-[1.72rem] top-1.5 size-2.5 rounded-full border-2 border-background bg-foreground/60"
                  aria-hidden
                />
                <div className="flex flex-wrap items-center gap-2 text-sm">
                  <time dateTime={e.at} className="font-mono text-xs text-muted-foreground">
                    {formatTime(e.at)}
                  </time>
                  {e.toState ? (
                    <>
                      {e.fromState ? <StateBadge state={e.fromState} /> : null}
                      {e.fromState ? <span aria-label="to">→</span> : null}
                      <StateBadge state={e.toState} />
                    </>
                  ) : (
                    <Badge variant="outline">{e.kind.replaceAll("_", " ")}</Badge>
                  )}
                  {e.extensionId ? (
                    <span className="text-xs text-muted-foreground">
                      on {shortId(e.extensionId)}
                    </span>
                  ) : null}
                </div>
                <p className="mt-1 text-sm">{e.reason}</p>
              </li>
            ))}
          </ol>
        )}
      </CardContent>
    </Card>
  );
}
