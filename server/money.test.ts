import { describe, expect, it } from "vitest";
import { costMicros, formatMicros, parseDollarsToMicros, parseRatePico } from "./money";

const e2bRates = {
  vcpuSecondPico: parseRatePico("0.000014"),
  gibSecondPico: parseRatePico("0.0000045"),
  gpuSecondPico: 0n,
};

describe("money", () => {
  it("parses decimal rates exactly into pico-dollars", () => {
    expect(parseRatePico("0.000014")).toBe(14_000_000n);
    expect(parseRatePico("0.0000045")).toBe(4_500_000n);
    expect(parseRatePico("0.00000222")).toBe(2_220_000n);
    expect(parseRatePico("1")).toBe(1_000_000_000_000n);
  });

  it("rejects floats written in exponent form and too many decimals", () => {
    expect(() => parseRatePico("4.5e-6")).toThrow(/not a decimal/);
    expect(() => parseRatePico("0.0000000000001")).toThrow(/12 decimal/);
    expect(() => parseRatePico("-1")).toThrow();
  });

  it("rounds half up once per record", () => {
    // 1 vCPU at $0.0000045/s for 1 s = 4.5 µ$ → 5
    const rates = { vcpuSecondPico: parseRatePico("0.0000045"), gibSecondPico: 0n, gpuSecondPico: 0n };
    expect(costMicros(rates, { vcpuMilli: 1000, memoryMiB: 0, gpuCount: 0 }, 1000)).toBe(5n);
    // 1.4 µ$ → 1, 1.5 → 2
    const tiny = { vcpuSecondPico: parseRatePico("0.0000014"), gibSecondPico: 0n, gpuSecondPico: 0n };
    expect(costMicros(tiny, { vcpuMilli: 1000, memoryMiB: 0, gpuCount: 0 }, 1000)).toBe(1n);
    const half = { vcpuSecondPico: parseRatePico("0.0000015"), gibSecondPico: 0n, gpuSecondPico: 0n };
    expect(costMicros(half, { vcpuMilli: 1000, memoryMiB: 0, gpuCount: 0 }, 1000)).toBe(2n);
  });

  it("computes E2B cost for 2 vCPU, 512 MiB over 999 s exactly", () => {
    // 2 × 14 µ$ × 999 + 0.5 GiB × 4.5 µ$ × 999 = 27972 + 2247.75 = 30219.75 → 30220
    expect(costMicros(e2bRates, { vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0 }, 999_000)).toBe(30220n);
  });

  it("handles 3,599,999 ms without float drift", () => {
    // 1 vCPU: 14 × 3599.999 = 50399.986; 1 GiB: 4.5 × 3599.999 = 16199.9955 → 66599.9815 → 66600
    expect(costMicros(e2bRates, { vcpuMilli: 1000, memoryMiB: 1024, gpuCount: 0 }, 3_599_999)).toBe(66600n);
  });

  it("formats and parses micro-dollars symmetrically", () => {
    expect(formatMicros(1_234_567n)).toBe("1.234567");
    expect(formatMicros(5n)).toBe("0.000005");
    expect(formatMicros(-5n)).toBe("-0.000005");
    expect(parseDollarsToMicros("12.5")).toBe(12_500_000n);
    expect(parseDollarsToMicros("$0.000001")).toBe(1n);
    expect(() => parseDollarsToMicros("1.0000001")).toThrow(/6 decimal/);
    expect(() => parseDollarsToMicros("abc")).toThrow();
    expect(() => parseDollarsToMicros("99999999999999")).toThrow(/too large an amount/);
    expect(parseDollarsToMicros("9999999999")).toBe(9_999_999_999_000_000n);
  });
});
