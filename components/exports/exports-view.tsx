"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Download, FileSpreadsheet } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useConsole } from "@/components/console/console-context";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { Alert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, NativeSelect } from "@/components/ui/input";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { fieldError, toSafeError, type SafeError } from "@/lib/errors";
import { formatMoney, formatTime, shortId } from "@/lib/format";
import { canExportUsage, EXPORT_REFUSED } from "@/lib/roles";
import { useTRPC } from "@/lib/trpc";
import { isoDay, isReportDay, MAX_DAY, MIN_DAY, usageListBounds } from "@/lib/usage-range";
import { FinHubBatches } from "./fin-hub-batches";

const DAY_MS = 86_400_000;

const FORMATS = {
  csv: { label: "CSV", hint: "One row per usage record; opens in spreadsheets (UTF-8 with BOM)." },
  focus: { label: "FOCUS 1.2", hint: "FinOps FOCUS 1.2 columns plus ours prefixed x_ (UTF-8)." },
} as const;
type Format = keyof typeof FORMATS;

export function ExportsView() {
  const { role } = useConsole();
  if (!canExportUsage(role)) return <Alert>{EXPORT_REFUSED}</Alert>;
  return (
    <div className="grid gap-6">
      <NewExportForm />
      <ExportJobs />
      <FinHubBatches />
    </div>
  );
}

function NewExportForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [from, setFrom] = useState(() => isoDay(Date.now() - 29 * DAY_MS));
  const [to, setTo] = useState(() => isoDay(Date.now()));
  const [extension, setExtension] = useState("");
  const [profile, setProfile] = useState("");
  const [error, setError] = useState<SafeError | null>(null);
  const start = useMutation(trpc.usage.export.mutationOptions());
  // The filters offer only what the registry knows, so a typo cannot make an empty file.
  const registry = useQuery(trpc.registry.list.queryOptions(undefined, { staleTime: 5 * 60_000 }));
  // Said beside the field as soon as the range is impossible, before anything is asked of the API.
  const outside = `Choose a day from ${MIN_DAY} to ${MAX_DAY}.`;
  const fromError = !from ? "Choose a start date." : !isReportDay(from) ? outside : undefined;
  const toError = !to
    ? "Choose an end date."
    : !isReportDay(to)
      ? outside
      : from && to < from
        ? "The end date is before the start date."
        : undefined;
  const rangeInvalid = Boolean(fromError || toError);

  async function submit(format: Format) {
    setError(null);
    if (rangeInvalid) return;
    try {
      // The form's `to` is an inclusive day; the API's `to` is exclusive (and stops at 9999-12-30).
      await start.mutateAsync({
        format,
        ...usageListBounds({ from, to }),
        extension: extension || undefined,
        profile: profile || undefined,
      });
      await queryClient.invalidateQueries({ queryKey: trpc.usage.exports.queryKey() });
    } catch (err) {
      setError(toSafeError(err));
    }
  }
  const onSubmit = (e: FormEvent) => e.preventDefault();

  return (
    <Card>
      <CardHeader>
        <CardTitle>New export</CardTitle>
        <CardDescription>
          Usage records that ended in the range (UTC days, both ends included). Amounts are exact
          decimal dollars; text that a spreadsheet would run as a formula starts with an apostrophe.
          See docs/exports.md for every column.
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={onSubmit} noValidate className="grid gap-4">
          <div className="flex flex-wrap items-start gap-4">
            <Field label="From" error={fromError ?? fieldError(error, "from")} className="w-44">
              <Input
                type="date"
                value={from}
                min={MIN_DAY}
                max={to || MAX_DAY}
                onChange={(e) => {
                  setFrom(e.target.value);
                  setError(null);
                }}
              />
            </Field>
            <Field label="To" error={toError ?? fieldError(error, "to")} className="w-44">
              <Input
                type="date"
                value={to}
                min={from || MIN_DAY}
                max={MAX_DAY}
                onChange={(e) => {
                  setTo(e.target.value);
                  setError(null);
                }}
              />
            </Field>
            <Field label="Extension" error={fieldError(error, "extension")} className="w-52">
              <NativeSelect value={extension} onChange={(e) => setExtension(e.target.value)}>
                <option value="">All extensions</option>
                {(registry.data?.extensions ?? []).map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.name} ({shortId(x.id)})
                  </option>
                ))}
              </NativeSelect>
            </Field>
            <Field label="Profile" error={fieldError(error, "profile")} className="w-52">
              <NativeSelect value={profile} onChange={(e) => setProfile(e.target.value)}>
                <option value="">All profiles</option>
                {(registry.data?.profiles ?? []).map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name} ({shortId(p.id)})
                  </option>
                ))}
              </NativeSelect>
            </Field>
          </div>
          <div className="flex flex-wrap gap-2">
            {(Object.keys(FORMATS) as Format[]).map((f) => (
              <Button
                key={f}
                type="button"
                variant={f === "csv" ? "default" : "outline"}
                disabled={start.isPending || rangeInvalid}
                onClick={() => void submit(f)}
                title={FORMATS[f].hint}
              >
                <FileSpreadsheet aria-hidden /> Export {FORMATS[f].label}
              </Button>
            ))}
          </div>
          {error && !["from", "to", "extension", "profile"].some((f) => fieldError(error, f)) ? (
            <p role="alert" className="text-sm text-destructive">
              {error.message}
            </p>
          ) : null}
        </form>
      </CardContent>
    </Card>
  );
}

const statusVariant = {
  queued: "secondary",
  running: "info",
  ready: "success",
  failed: "destructive",
} as const;

/** The team's recent exports; polls while one is queued or running. */
function ExportJobs() {
  const trpc = useTRPC();
  const jobs = useQuery(
    trpc.usage.exports.queryOptions(undefined, {
      refetchInterval: (q) =>
        q.state.data?.some((e) => e.status === "queued" || e.status === "running") ? 1_000 : false,
    }),
  );
  return (
    <Card>
      <CardHeader>
        <CardTitle>Exports</CardTitle>
        <CardDescription>
          Small exports are ready at once; large ones are written by the worker and show their
          progress here.
        </CardDescription>
      </CardHeader>
      <CardContent>
        {jobs.isError ? (
          <ErrorState
            error={jobs.error}
            onRetry={() => void jobs.refetch()}
            title="Could not load exports"
          />
        ) : jobs.isPending ? (
          <LoadingRows label="Loading exports" />
        ) : jobs.data.length === 0 ? (
          <EmptyState title="No exports yet">Choose a range above and export it.</EmptyState>
        ) : (
          <Table aria-label="Usage exports">
            <TableHeader>
              <TableRow>
                <TableHead>Requested</TableHead>
                <TableHead>Format</TableHead>
                <TableHead>Range</TableHead>
                <TableHead>Status</TableHead>
                <TableHead className="text-right">Rows</TableHead>
                <TableHead className="text-right">Total</TableHead>
                <TableHead />
              </TableRow>
            </TableHeader>
            <TableBody>
              {jobs.data.map((e) => (
                <TableRow key={e.id} data-export-id={e.id} data-status={e.status}>
                  <TableCell className="text-xs">{formatTime(e.createdAt)}</TableCell>
                  <TableCell>{FORMATS[e.format].label}</TableCell>
                  <TableCell className="min-w-40 whitespace-normal text-xs">
                    <span className="whitespace-nowrap">
                      {e.filter.from?.slice(0, 10) ?? "start"} →{" "}
                      {e.filter.to ? isoDay(new Date(e.filter.to).getTime() - 1) : "now"}
                    </span>
                    {e.filter.extension ? ` · ${shortId(e.filter.extension)}` : ""}
                    {e.filter.profile ? ` · ${shortId(e.filter.profile)}` : ""}
                  </TableCell>
                  <TableCell>
                    <div className="grid gap-1">
                      <Badge variant={statusVariant[e.status]} data-testid="export-status">
                        {e.status}
                        {e.status === "running" ? ` ${e.progress}%` : ""}
                      </Badge>
                      {e.status === "running" || e.status === "queued" ? (
                        <div
                          role="progressbar"
                          aria-label={`Export ${e.id} progress`}
                          aria-valuenow={e.progress}
                          aria-valuemin={0}
                          aria-valuemax={100}
                          className="h-1.5 w-28 overflow-hidden rounded bg-muted"
                        >
                          <div className="h-full bg-primary" style={{ width: `${e.progress}%` }} />
                        </div>
                      ) : null}
                      {e.status === "failed" && e.error ? (
                        <p className="max-w-xs whitespace-normal text-xs text-destructive">
                          {e.error}
                        </p>
                      ) : null}
                    </div>
                  </TableCell>
                  <TableCell className="text-right tabular-nums">
                    {e.rowsWritten} / {e.rowsTotal}
                  </TableCell>
                  <TableCell className="text-right tabular-nums">
                    {e.status === "ready" ? formatMoney(e.totalMicros) : "—"}
                  </TableCell>
                  <TableCell className="text-right">
                    {e.downloadUrl ? (
                      <Button asChild size="sm" variant="outline">
                        <a href={e.downloadUrl} download={e.fileName}>
                          <Download aria-hidden /> Download {FORMATS[e.format].label}
                        </a>
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
