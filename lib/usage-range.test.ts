import { describe, expect, it } from "vitest";
import { isReportDay, lastDays, parseUsageRange, usageListBounds } from "./usage-range";

const now = Date.parse("2026-12-04T08:00:00Z");
const fallback = lastDays(30, now);
const params = (q: string) => new URLSearchParams(q);

describe("the Usage page's range from its address", () => {
  it("keeps real calendar days, both ends", () => {
    expect(parseUsageRange(params("from=2026-11-01&to=2026-11-30"), fallback)).toEqual({
      range: { from: "2026-11-01", to: "2026-11-30" },
      kept: { from: "2026-11-01", to: "2026-11-30" },
      ignored: [],
    });
  });

  it("uses the default range, silently, when the address names none", () => {
    expect(parseUsageRange(params(""), fallback)).toEqual({
      range: fallback,
      kept: {},
      ignored: [],
    });
    expect(fallback).toEqual({ from: "2026-11-05", to: "2026-12-04" });
  });

  it.each([
    "2026-13-45",
    "2026-02-30",
    "abc",
    "0001-01-01",
    "1969-12-31",
    "10000-01-01",
    "2026-1-1",
    "<script>",
    " 2026-12-01",
    "\u202e2026-12-01",
  ])("ignores %j and says so, instead of an Invalid Date or a validation error", (bad) => {
    const r = parseUsageRange(params(`from=2026-11-01&to=${encodeURIComponent(bad)}`), fallback);
    expect(r.range).toEqual({ from: "2026-11-01", to: fallback.to });
    expect(r.kept).toEqual({ from: "2026-11-01" });
    expect(r.ignored).toHaveLength(1);
    expect(r.ignored[0]).toMatch(/^end date “/);
  });

  it("accepts the last day a date field offers", () => {
    expect(isReportDay("9999-12-31")).toBe(true);
    expect(isReportDay("1970-01-01")).toBe(true);
    expect(isReportDay("2028-02-29")).toBe(true);
    expect(isReportDay("2027-02-29")).toBe(false);
  });
});

describe("usage.list bounds for whole days", () => {
  it("runs from 00:00 on the first day to 00:00 after the last", () => {
    expect(usageListBounds({ from: "2026-11-01", to: "2026-11-30" })).toEqual({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
    });
  });

  it.each([
    ["9999-12-01", "9999-12-31"],
    ["9999-12-31", "9999-12-31"],
    ["9999-12-29", "9999-12-30"],
  ])("stays within what the API takes for %s..%s (no +010000 year)", (from, to) => {
    const b = usageListBounds({ from, to });
    expect(b.to).toBe("9999-12-30T00:00:00.000Z");
    expect(b.from <= b.to).toBe(true);
    expect(b.from).toMatch(/^9999-/);
  });
});
