"use client";

import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import {
  formatHours,
  formatMoney,
  formatMoneyTick,
  microsToChartNumber,
  shortId,
} from "@/lib/format";

type Row = { label: string; costMicros: string; durationMs: number; count: number };
type Metric = "cost" | "hours";

/**
 * Bar heights are floats (geometry only); every number a person reads — axis ticks aside —
 * comes from the exact micro-dollar string via formatMoney.
 */
function ChartTooltip({
  active,
  payload,
  metric,
}: {
  active?: boolean;
  payload?: { payload: Row }[];
  metric: Metric;
}) {
  const row = payload?.[0]?.payload;
  if (!active || !row) return null;
  return (
    <div className="rounded-md border bg-popover px-3 py-2 text-xs shadow-md">
      <p className="font-medium">{row.label}</p>
      <p>{metric === "cost" ? formatMoney(row.costMicros) : formatHours(row.durationMs)}</p>
      <p className="text-muted-foreground">
        {row.count} sandbox{row.count === 1 ? "" : "es"}
        {metric === "cost"
          ? ` · ${formatHours(row.durationMs)}`
          : ` · ${formatMoney(row.costMicros)}`}
      </p>
    </div>
  );
}

export function UsageChart({
  title,
  description,
  rows,
  metric,
  color,
  angled = false,
}: {
  title: string;
  description: string;
  rows: Row[];
  metric: Metric;
  color: string;
  angled?: boolean;
}) {
  const data = rows.map((r) => ({
    ...r,
    value: metric === "cost" ? microsToChartNumber(r.costMicros) : r.durationMs / 3_600_000,
  }));
  const empty = rows.every((r) => r.count === 0);
  // A text alternative for screen readers: the same numbers as a list.
  const summary = rows
    .filter((r) => r.count > 0)
    .map(
      (r) =>
        `${r.label}: ${metric === "cost" ? formatMoney(r.costMicros) : formatHours(r.durationMs)}`,
    )
    .join("; ");
  return (
    <Card>
      <CardHeader>
        <CardTitle>{title}</CardTitle>
        <CardDescription>{description}</CardDescription>
      </CardHeader>
      <CardContent>
        {empty ? (
          <p className="flex h-56 items-center justify-center text-sm text-muted-foreground">
            No usage in this range.
          </p>
        ) : (
          <figure aria-label={`${title}. ${summary}`} className="h-56">
            <ResponsiveContainer width="100%" height="100%">
              <BarChart data={data} margin={{ top: 4, right: 8, bottom: angled ? 24 : 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--border)" />
                <XAxis
                  dataKey="label"
                  tick={{ fontSize: 11, fill: "var(--muted-foreground)" }}
                  tickLine={false}
                  axisLine={false}
                  interval="preserveStartEnd"
                  angle={angled ? -30 : 0}
                  textAnchor={angled ? "end" : "middle"}
                />
                <YAxis
                  tick={{ fontSize: 11, fill: "var(--muted-foreground)" }}
                  tickLine={false}
                  axisLine={false}
                  width={72}
                  // Ticks are approximate by nature; money ticks read like every other amount
                  // ("$1.50"), hours keep two significant digits.
                  tickFormatter={(v: number) =>
                    metric === "cost" ? formatMoneyTick(v) : `${Number(v.toPrecision(2))}h`
                  }
                />
                <Tooltip
                  cursor={{ fill: "var(--muted)" }}
                  content={<ChartTooltip metric={metric} />}
                />
                <Bar
                  dataKey="value"
                  fill={color}
                  radius={[4, 4, 0, 0]}
                  maxBarSize={48}
                  isAnimationActive={false}
                />
              </BarChart>
            </ResponsiveContainer>
          </figure>
        )}
      </CardContent>
    </Card>
  );
}

export const byDayRows = (
  rows: { day: string; costMicros: string; durationMs: number; count: number }[],
): Row[] =>
  rows.map((r) => ({
    label: r.day.slice(5),
    costMicros: r.costMicros,
    durationMs: r.durationMs,
    count: r.count,
  }));

export const byKeyRows = (
  rows: { key: string; costMicros: string; durationMs: number; count: number }[],
): Row[] =>
  rows.map((r) => ({
    label: shortId(r.key),
    costMicros: r.costMicros,
    durationMs: r.durationMs,
    count: r.count,
  }));
