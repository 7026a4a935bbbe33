import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { restore } from "@/server/exports/spreadsheet";
import { buildUsageCsv, USAGE_CSV_HEADER, usageCsvLine, type UsageCsvItem } from "./usage-csv";

const item = (i: number, over: Partial<UsageCsvItem> = {}): UsageCsvItem => ({
  sandboxId: `sbx_${i}`,
  profileId: "profile.burst-sandbox",
  extensionId: "ext.saas-stub",
  startedAt: "2026-12-01T10:00:00.000Z",
  endedAt: "2026-12-01T10:00:01.234Z",
  durationMs: 1234,
  rateCardVersion: "stub-2026-12-01",
  currency: "USD",
  costMicros: "130",
  endReason: "destroy requested",
  ...over,
});

/** Pages of `size` over `n` rows, as usage.list returns them. */
const pages =
  (n: number, size: number, make = item) =>
  async (cursor: string | undefined) => {
    const start = cursor ? Number(cursor) : 0;
    const items = Array.from({ length: Math.min(size, n - start) }, (_, k) => make(start + k));
    return { items, nextCursor: start + size < n ? String(start + size) : null };
  };

describe("Usage page CSV", () => {
  it("neutralises text only: a negative amount and times stay as written; text with a lone CR is quoted", async () => {
    const awkward = [
      "=1+1",
      "+cmd",
      "-2",
      "@x",
      "\tTab",
      "\rCR",
      "'quoted",
      "mid\rline",
      "a,b",
      'say "hi"',
      "two\nlines",
    ];
    const result = await buildUsageCsv(
      pages(awkward.length, 4, (i) =>
        item(i, {
          endReason: awkward[i]!,
          rateCardVersion: awkward[i]!,
          costMicros: i % 2 ? "-1000000" : "130",
        }),
      ),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const rows = parse(result.csv, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(awkward.length);
    rows.forEach((r, i) => {
      expect(restore(r.end_reason!)).toBe(awkward[i]);
      expect(restore(r.rate_card_version!)).toBe(awkward[i]);
      expect(r.cost_usd).toBe(i % 2 ? "-1.000000" : "0.000130");
      expect(r.started_at).toBe("2026-12-01T10:00:00.000Z");
      expect(r.duration_ms).toBe("1234");
    });
    expect(rows[0]!.end_reason).toBe("'=1+1");
    expect(usageCsvLine(item(0, { endReason: "mid\rline" }))).toMatch(/,"mid\rline"$/);
    expect(result.csv.startsWith(USAGE_CSV_HEADER + "\n")).toBe(true);
  });

  it("downloads every row up to the limit, and refuses above it instead of cutting the file short", async () => {
    const full = await buildUsageCsv(pages(1_000, 300), 1_000);
    expect(full).toMatchObject({ ok: true, rows: 1_000 });
    const over = await buildUsageCsv(pages(1_001, 300), 1_000);
    expect(over).toMatchObject({ ok: false, reason: "too-many" });
  });
});
