import type { inferRouterOutputs } from "@trpc/server";
import { CheckCircle2, XCircle } from "lucide-react";
import Link from "next/link";
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
import { formatDuration, formatMemory, formatRatePerHour, shortId } from "@/lib/format";
import type { AppRouter } from "@/server/trpc/root";

type RegistryData = inferRouterOutputs<AppRouter>["registry"]["list"];
type Capabilities = inferRouterOutputs<AppRouter>["capabilities"]["list"];
type Level = Capabilities[number]["level"];

/** Maturity levels of docs/capabilities.yaml, least to most mature. */
const LEVELS: Record<
  Level,
  { variant: "secondary" | "warning" | "info" | "success"; help: string }
> = {
  planned: { variant: "secondary", help: "not built" },
  experimental: { variant: "warning", help: "built, thin evidence" },
  beta: { variant: "info", help: "tested end to end, documented" },
  stable: { variant: "success", help: "beta plus a runbook and production use" },
};

function Paths({ paths }: { paths: string[] }) {
  if (paths.length === 0) return <span className="text-muted-foreground">none</span>;
  return (
    <ul className="grid gap-0.5">
      {paths.map((p) => (
        <li key={p} className="font-mono text-xs whitespace-nowrap">
          {p}
        </li>
      ))}
    </ul>
  );
}

function CapabilitiesCard({ capabilities }: { capabilities: Capabilities }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>Capabilities</CardTitle>
        <CardDescription>
          What Sandboxer can do, how mature each piece is, and the tests and docs behind the claim
          (docs/capabilities.yaml).
          <span className="mt-1 block">
            {(Object.keys(LEVELS) as Level[]).map((l) => (
              <span key={l} className="mr-4 inline-block">
                <strong className="font-medium text-foreground">{l}</strong>: {LEVELS[l].help}
              </span>
            ))}
          </span>
        </CardDescription>
      </CardHeader>
      <CardContent>
        <Table aria-label="Capabilities">
          <TableHeader>
            <TableRow>
              <TableHead>Capability</TableHead>
              <TableHead>Maturity</TableHead>
              <TableHead>Tests</TableHead>
              <TableHead>Docs</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {capabilities.map((c) => (
              <TableRow key={c.id} data-capability={c.id}>
                <TableCell className="whitespace-normal">
                  <p className="font-medium">{c.name}</p>
                  <p className="font-mono text-xs text-muted-foreground">{c.id}</p>
                </TableCell>
                <TableCell>
                  <Badge variant={LEVELS[c.level].variant} data-testid="capability-level">
                    {c.level}
                  </Badge>
                </TableCell>
                <TableCell className="align-top">
                  <Paths paths={c.tests} />
                </TableCell>
                <TableCell className="align-top">
                  <Paths paths={c.docs} />
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </CardContent>
    </Card>
  );
}

function Line({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex justify-between gap-3 py-1 text-sm">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="text-right font-medium">{children}</dd>
    </div>
  );
}

export function Registry({
  registry,
  capabilities,
}: {
  registry: RegistryData;
  capabilities: Capabilities;
}) {
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
                    {p.resources.vcpu} vCPU · {formatMemory(p.resources.memoryMiB)}
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
                  <Line label="Creates / s">
                    {x.limits.createsPerSecond.toLocaleString("en-US")}
                  </Line>
                  <Line label="Can extend">{x.limits.canExtend ? "yes" : "no"}</Line>
                </dl>
                <div className="border-t pt-2 text-sm" data-testid="extension-credentials">
                  <p className="text-muted-foreground">Your team&apos;s credentials</p>
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
                        <span className="font-normal text-muted-foreground">
                          {x.credentials.source === "team"
                            ? " · your team's key"
                            : " · platform default"}
                        </span>
                      </p>
                      {x.credentials.reason ? (
                        <p className="text-xs text-muted-foreground [overflow-wrap:anywhere]">
                          {x.credentials.reason}
                        </p>
                      ) : null}
                      <p className="mt-1 text-xs text-muted-foreground [overflow-wrap:anywhere]">
                        Looked up from {x.credentialRefs.map((c) => c.teamRef ?? c.ref).join(", ")}{" "}
                        (values are never shown).{" "}
                        <Link href="/settings/provider-keys" className="underline">
                          Provider keys
                        </Link>
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
      <CapabilitiesCard capabilities={capabilities} />
    </div>
  );
}
