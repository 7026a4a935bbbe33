/**
 * The Usage page's "Export CSV" (components/usage/usage-table.tsx): usage.list rows as a CSV the
 * browser downloads. The same rules as the server's exports (docs/exports.md): only TEXT cells
 * are neutralised for spreadsheets — times, numbers and amounts stay as written, so a negative
 * amount stays `-1.000000`; a cell holding a comma, a quote, a line feed or a carriage return is
 * quoted (RFC 4180), so a reason with a lone CR cannot start a new row in Excel.
 */
import { stringify } from "csv-stringify/browser/esm/sync";
import { neutralise } from "@/server/exports/spreadsheet";
import { formatMicros } from "@/server/money";

/** More rows than this and the page refuses rather than download part of the range. */
export const USAGE_CSV_MAX_ROWS = 50_000;

export const USAGE_CSV_HEADER =
  "sandbox_id,profile,extension,started_at,ended_at,duration_ms,rate_card_version,currency,cost_usd,end_reason";

export type UsageCsvItem = {
  sandboxId: string;
  profileId: string;
  extensionId: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  rateCardVersion: string;
  currency: string;
  costMicros: string;
  endReason: string;
};

/** A free-text cell is neutralised; a time, number or amount never is. Quoting is csv-stringify's. */
const text = (v: string | null) => (v === null ? "" : neutralise(v));

export function usageCsvLine(u: UsageCsvItem): string {
  const cells = [
    text(u.sandboxId),
    text(u.profileId),
    text(u.extensionId),
    u.startedAt,
    u.endedAt,
    String(u.durationMs),
    text(u.rateCardVersion),
    text(u.currency),
    formatMicros(BigInt(u.costMicros)),
    text(u.endReason),
  ];
  return stringify([cells], { eof: false });
}

export type UsageCsvResult =
  { ok: true; csv: string; rows: number } | { ok: false; reason: "too-many"; rows: number };

/**
 * Reads every page of the range (`page(cursor)`) into one CSV, or refuses once it holds more than
 * `maxRows` rows — a file cut at the limit would look complete to whoever opens it.
 */
export async function buildUsageCsv(
  page: (
    cursor: string | undefined,
  ) => Promise<{ items: UsageCsvItem[]; nextCursor: string | null }>,
  maxRows = USAGE_CSV_MAX_ROWS,
): Promise<UsageCsvResult> {
  const lines = [USAGE_CSV_HEADER];
  let next: string | undefined;
  do {
    const p = await page(next);
    for (const u of p.items) lines.push(usageCsvLine(u));
    if (lines.length - 1 > maxRows)
      return { ok: false, reason: "too-many", rows: lines.length - 1 };
    next = p.nextCursor ?? undefined;
  } while (next);
  return { ok: true, csv: lines.join("\n") + "\n", rows: lines.length - 1 };
}
