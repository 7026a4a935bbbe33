import { describe, expect, it } from "vitest";
import {
  formatDollarsInput,
  formatDuration,
  formatMemory,
  formatMoney,
  formatMoneyTick,
  formatTime,
  MINUS,
} from "./format";

describe("formatMoney", () => {
  it("shows at least cents and keeps sub-cent digits", () => {
    expect(formatMoney("5000000")).toBe("$5.00");
    expect(formatMoney("7500000")).toBe("$7.50");
    expect(formatMoney("100000")).toBe("$0.10");
    expect(formatMoney("523")).toBe("$0.000523");
    expect(formatMoney("1234567890000")).toBe("$1,234,567.89");
  });

  it("writes negative amounts with the one minus sign the ledger uses", () => {
    expect(formatMoney("-500000")).toBe(`${MINUS}$0.50`);
    expect(MINUS).toBe("\u2212");
    expect(formatMoney("-500000")).not.toContain("-");
  });

  it("shows a dash for nothing or garbage", () => {
    expect(formatMoney(null)).toBe("—");
    expect(formatMoney("")).toBe("—");
    expect(formatMoney("1.5")).toBe("—");
  });
});

describe("formatDollarsInput", () => {
  it("turns what was typed into the same form as every other amount", () => {
    expect(formatDollarsInput("0.1")).toBe("$0.10");
    expect(formatDollarsInput("5")).toBe("$5.00");
    expect(formatDollarsInput("7.5")).toBe("$7.50");
    expect(formatDollarsInput(" $12.000001 ")).toBe("$12.000001");
    expect(formatDollarsInput("abc")).toBeNull();
  });
});

describe("formatMoneyTick", () => {
  it("gives chart ticks cents like other amounts", () => {
    expect(formatMoneyTick(2)).toBe("$2.00");
    expect(formatMoneyTick(1.5)).toBe("$1.50");
    expect(formatMoneyTick(0.30000000000000004)).toBe("$0.30");
    expect(formatMoneyTick(0.0004)).toBe("$0.0004");
    expect(formatMoneyTick(0)).toBe("$0.00");
    expect(formatMoneyTick(Number.NaN)).toBe("");
  });
});

describe("formatMemory", () => {
  it("says whole GiB as GiB and the rest in MiB", () => {
    expect(formatMemory(32768)).toBe("32 GiB");
    expect(formatMemory(1024)).toBe("1 GiB");
    expect(formatMemory(1536)).toBe("1536 MiB");
    expect(formatMemory(512)).toBe("512 MiB");
  });
});

describe("formatTime and formatDuration", () => {
  it("is UTC and says so", () => {
    expect(formatTime("2026-12-03T19:38:50.000Z")).toBe("2026-12-03 19:38:50 UTC");
  });
  it("reads a TTL the way the sandbox page does", () => {
    expect(formatDuration(3300)).toBe("55m 00s");
    expect(formatDuration(600)).toBe("10m 00s");
    expect(formatDuration(3600)).toBe("1h 00m");
  });
});
