/**
 * The Usage page's date range from its address (?from=&to=, whole UTC days, both inclusive).
 * A value that is not a real calendar day Sandboxer can report on (2026-13-45, 2026-02-30, abc,
 * 0001-01-01) is ignored, the default range's day used instead, and named in `ignored` so the
 * page can say so: it is never sent to the API (whose refusal would read as a validation error
 * about a field the person did not type) nor turned into an Invalid Date in the page.
 */
export const MIN_DAY = "1970-01-01"; // server/services/console-usage.ts
export const MAX_DAY = "9999-12-31";
const DAY_MS = 86_400_000;
/** The last instant usage.list takes (server/trpc/inputs.ts LATEST_DATE); nothing ends after it. */
const LIST_LATEST_MS = Date.parse("9999-12-30T00:00:00.000Z");

export const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A calendar day as written (YYYY-MM-DD, one that reads back the same) within MIN_DAY..MAX_DAY. */
export function isReportDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value < MIN_DAY || value > MAX_DAY) return false;
  const ms = Date.parse(`${value}T00:00:00.000Z`);
  return !Number.isNaN(ms) && isoDay(ms) === value;
}

/** The last `days` UTC days, ending today. */
export const lastDays = (days: number, now: number) => ({
  from: isoDay(now - (days - 1) * DAY_MS),
  to: isoDay(now),
});

export function parseUsageRange(
  params: { get(name: string): string | null },
  fallback: { from: string; to: string },
): {
  range: { from: string; to: string };
  kept: { from?: string; to?: string };
  ignored: string[];
} {
  const ignored: string[] = [];
  const kept: { from?: string; to?: string } = {};
  const pick = (name: "from" | "to", label: string) => {
    const raw = params.get(name);
    if (raw === null || raw === "") return fallback[name];
    if (isReportDay(raw)) return (kept[name] = raw);
    ignored.push(`${label} “${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}”`);
    return fallback[name];
  };
  const from = pick("from", "start date");
  const to = pick("to", "end date");
  return { range: { from, to }, kept, ignored };
}

/**
 * usage.list's bounds for whole days [from, to]: from 00:00 on `from` to 00:00 after `to`
 * (exclusive), kept within the instants the API takes, so the last days a date field offers
 * (up to 9999-12-31) ask for what can exist instead of failing.
 */
export function usageListBounds(range: { from: string; to: string }): { from: string; to: string } {
  const start = Math.min(Date.parse(`${range.from}T00:00:00.000Z`), LIST_LATEST_MS);
  const end = Math.min(Date.parse(`${range.to}T00:00:00.000Z`) + DAY_MS, LIST_LATEST_MS);
  return { from: new Date(start).toISOString(), to: new Date(end).toISOString() };
}
