"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { usePathname, useSearchParams } from "next/navigation";
import { useRef } from "react";
import { ErrorState, LoadingRows } from "@/components/console/states";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardDescription, CardHeader } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { Skeleton } from "@/components/ui/skeleton";
import { fieldError, toSafeError } from "@/lib/errors";
import { formatHours, formatMoney } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";
import { writeQuery } from "@/lib/url-query";
import { lastDays, MAX_DAY, MIN_DAY, parseUsageRange } from "@/lib/usage-range";
import { byDayRows, byKeyRows, UsageChart } from "./usage-charts";
import { UsageTable } from "./usage-table";

const rangeOf = (days: number) => lastDays(days, Date.now());
const PRESETS = [7, 30, 90];
/** The range a page without one in its address shows: one of the presets. */
const DEFAULT_DAYS = 30;

/**
 * Usage does not change while you look at it unless sandboxes end, so nothing polls here. The
 * range is in the address (?from=&to=, UTC days): a reload or a shared link shows the same
 * days, and Back steps through the ranges looked at.
 */
export function UsageView() {
  const trpc = useTRPC();
  const pathname = usePathname();
  const params = useSearchParams();
  const { range, kept, ignored } = parseUsageRange(params, rangeOf(DEFAULT_DAYS));
  // Typing a date changes it a digit at a time: edits of one field in quick succession replace
  // the history entry they started, so Back goes to the range before the edit, not a digit back.
  const lastEdit = useRef<{ field: string; at: number } | null>(null);
  const setRange = (next: { from: string; to: string }, field?: "from" | "to") => {
    const now = Date.now();
    const coalesce =
      field !== undefined && lastEdit.current?.field === field && now - lastEdit.current.at < 2_000;
    lastEdit.current = field ? { field, at: now } : null;
    writeQuery(pathname, next, coalesce ? "replace" : "push");
  };
  const preset = PRESETS.find((d) => {
    const r = rangeOf(d);
    return r.from === range.from && r.to === range.to;
  });
  const summary = useQuery(
    trpc.reports.usageSummary.queryOptions(range, {
      placeholderData: keepPreviousData,
      retry: false,
    }),
  );
  const error = summary.isError ? toSafeError(summary.error) : null;
  const fromError = fieldError(error, "from");
  const toError = fieldError(error, "to");
  // An impossible range (end before start, too long) has no figures: show dashes and no records,
  // never a loading placeholder that waits forever or records of a range the error just refused.
  const rangeInvalid = Boolean(fromError || toError);
  const data = rangeInvalid ? undefined : summary.data;

  return (
    <div className="grid gap-6">
      {ignored.length > 0 ? (
        <Alert className="flex flex-wrap items-center justify-between gap-2">
          <span data-testid="ignored-range">
            The {ignored.join(" and the ")} in the address{" "}
            {ignored.length === 1
              ? "is not a date here, so it is"
              : "are not dates here, so they are"}{" "}
            ignored.
          </span>
          <Button variant="outline" size="sm" onClick={() => writeQuery(pathname, kept, "replace")}>
            Remove from the address
          </Button>
        </Alert>
      ) : null}
      <div className="flex flex-wrap items-end gap-4" role="group" aria-label="Date range">
        <Field label="From" error={fromError} className="w-44">
          <Input
            type="date"
            value={range.from}
            min={MIN_DAY}
            max={range.to}
            onChange={(e) => e.target.value && setRange({ ...range, from: e.target.value }, "from")}
          />
        </Field>
        <Field label="To" error={toError} className="w-44">
          <Input
            type="date"
            value={range.to}
            min={range.from}
            max={MAX_DAY}
            onChange={(e) => e.target.value && setRange({ ...range, to: e.target.value }, "to")}
          />
        </Field>
        <div className="flex flex-wrap gap-2 pb-0.5">
          {PRESETS.map((d) => (
            <Button
              key={d}
              variant={preset === d ? "default" : "outline"}
              size="sm"
              aria-pressed={preset === d}
              onClick={() => setRange(rangeOf(d))}
            >
              Last {d} days
            </Button>
          ))}
        </div>
      </div>

      {error && !fromError && !toError ? (
        <ErrorState
          error={summary.error}
          onRetry={() => void summary.refetch()}
          title="Could not load usage"
        />
      ) : null}

      <div className="grid gap-4 sm:grid-cols-3">
        {(
          [
            ["Cost", data ? formatMoney(data.totals.costMicros) : null, "usage-total-cost"],
            [
              "Sandbox-hours",
              data ? formatHours(data.totals.durationMs) : null,
              "usage-total-hours",
            ],
            ["Sandboxes ended", data ? String(data.totals.count) : null, "usage-total-count"],
          ] as const
        ).map(([label, value, id]) => (
          <Card key={label}>
            <CardHeader>
              <CardDescription>{label}</CardDescription>
              {value === null && rangeInvalid ? (
                <p className="text-3xl font-semibold text-muted-foreground">—</p>
              ) : value === null ? (
                <Skeleton className="h-8 w-28" />
              ) : (
                <p className="text-3xl font-semibold tabular-nums" data-testid={id}>
                  {value}
                </p>
              )}
            </CardHeader>
          </Card>
        ))}
      </div>

      {!data ? (
        summary.isPending ? (
          <LoadingRows rows={4} label="Loading charts" />
        ) : null
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          <UsageChart
            title="Cost by day"
            description="Charged when a sandbox ends."
            rows={byDayRows(data.byDay)}
            metric="cost"
            color="var(--chart-1)"
          />
          <UsageChart
            title="Sandbox-hours by day"
            description="Running time of sandboxes that ended that day."
            rows={byDayRows(data.byDay)}
            metric="hours"
            color="var(--chart-2)"
          />
          <UsageChart
            title="Cost by extension"
            description="Which providers the money went to."
            rows={byKeyRows(data.byExtension.map((r) => ({ key: r.extensionId, ...r })))}
            metric="cost"
            color="var(--chart-3)"
          />
          <UsageChart
            title="Cost by profile"
            description="Which kinds of sandbox cost the most."
            rows={byKeyRows(data.byProfile.map((r) => ({ key: r.profileId, ...r })))}
            metric="cost"
            color="var(--chart-5)"
          />
        </div>
      )}
      {rangeInvalid ? (
        <p className="text-sm text-muted-foreground">
          Choose a valid date range to see the usage records.
        </p>
      ) : (
        <UsageTable from={range.from} to={range.to} />
      )}
    </div>
  );
}
