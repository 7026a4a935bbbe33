import type { inferRouterOutputs } from "@trpc/server";
import { CheckCircle2, XCircle } from "lucide-react";
import type { ReactNode } from "react";
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
import { formatDuration, formatRatePerHour, shortId } from "@/lib/format";
import type { AppRouter } from "@/server/trpc/root";

type RegistryData = inferRouterOutputs<AppRouter>["registry"]["list"];

function Line({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex justify-between gap-3 py-1 text-sm">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="text-right font-medium">{children}</dd>
    </div>
  );
}

export function Registry({ registry }: { registry: RegistryData }) {
  return (
    <div className="grid gap-6">
      <Card>
        <CardHeader>
          <CardTitle>Profiles</CardTitle>
          <CardDescription>
            What you can ask for. Routing tries the extensions of a profile&apos;s route in order.
          </CardDescription>
        </CardHeader>
        <CardContent>
          <Table aria-label="Profiles">
            <TableHeader>
              <TableRow>
                <TableHead>Profile</TableHead>
                <TableHead>Resources</TableHead>
                <TableHead>Template</TableHead>
                <TableHead>TTL (default / max)</TableHead>
                <TableHead>Route</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {registry.profiles.map((p) => (
                <TableRow key={p.id}>
                  <TableCell className="whitespace-normal">
                    <p className="font-medium">{p.name}</p>
                    <p className="font-mono text-xs text-muted-foreground">{p.id}</p>
                  </TableCell>
                  <TableCell className="text-xs">
                    {p.resources.vcpu} vCPU · {p.resources.memoryMiB} MiB
                    {p.resources.gpu > 0 ? ` · ${p.resources.gpu}× ${p.resources.gpuType}` : ""}
                  </TableCell>
                  <TableCell className="font-mono text-xs">{p.template}</TableCell>
                  <TableCell className="text-xs">
                    {formatDuration(p.ttl.defaultSeconds)} / {formatDuration(p.ttl.maxSeconds)}
                  </TableCell>
                  <TableCell className="text-xs">
                    <span className="text-muted-foreground">{p.strategy}: </span>
                    {p.route.map(shortId).join(" → ")}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </CardContent>
      </Card>
      <div>
        <h2 className="mb-3 text-base font-semibold">Extensions</h2>
        <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
          {registry.extensions.map((x) => (
            <Card key={x.id} aria-label={x.name}>
              <CardHeader>
                <div className="flex items-start justify-between gap-2">
                  <CardTitle>{x.name}</CardTitle>
                  {x.credentials.resolves && x.adapterAvailable ? (
                    <Badge variant="success">
                      <CheckCircle2 className="size-3" aria-hidden /> usable
                    </Badge>
                  ) : (
                    <Badge variant="destructive">
                      <XCircle className="size-3" aria-hidden /> unavailable
                    </Badge>
                  )}
                </div>
                <CardDescription className="font-mono text-xs">
                  {x.id} · adapter {x.adapter}
                </CardDescription>
              </CardHeader>
              <CardContent className="grid gap-3">
                <dl>
                  <Line label="Rate card">{x.pricing.rateCardVersion}</Line>
                  <Line label="vCPU">{formatRatePerHour(x.pricing.vcpuSecond)}/h</Line>
                  <Line label="Memory">{formatRatePerHour(x.pricing.gibSecond)}/GiB-h</Line>
                  {Object.entries(x.pricing.gpuSecond).map(([type, rate]) => (
                    <Line key={type} label={`GPU ${type}`}>
                      {formatRatePerHour(rate)}/h
                    </Line>
                  ))}
                </dl>
                <dl className="border-t pt-2">
                  <Line label="Max TTL">{formatDuration(x.limits.maxTtlSeconds)}</Line>
                  <Line label="Concurrent">{x.limits.maxConcurrent.toLocaleString("en-US")}</Line>
                  <Line label="Creates / s">{x.limits.createsPerSecond}</Line>
                  <Line label="Can extend">{x.limits.canExtend ? "yes" : "no"}</Line>
                </dl>
                <div className="border-t pt-2 text-sm">
                  <p className="text-muted-foreground">Credentials</p>
                  {x.credentialRefs.length === 0 ? (
                    <p className="font-medium">none needed</p>
                  ) : (
                    <>
                      <p
                        className={
                          x.credentials.resolves
                            ? "font-medium text-success"
                            : "font-medium text-destructive"
                        }
                      >
                        {x.credentials.resolves ? "resolve" : "do not resolve"}
                      </p>
                      {x.credentials.reason ? (
                        <p className="text-xs text-muted-foreground">{x.credentials.reason}</p>
                      ) : null}
                      <p className="mt-1 text-xs text-muted-foreground">
                        Looked up from {x.credentialRefs.map((c) => c.ref).join(", ")} (values are
                        never shown).
                      </p>
                    </>
                  )}
                  {!x.adapterAvailable ? (
                    <p className="mt-1 text-xs text-destructive">
                      The adapter is not loaded in this deployment.
                    </p>
                  ) : null}
                </div>
              </CardContent>
            </Card>
          ))}
        </div>
      </div>
    </div>
  );
}
