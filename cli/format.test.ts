import { describe, expect, it } from "vitest";
import { CliError, ExitCode, toCliError, UsageError } from "./errors";
import {
  compactSeconds,
  formatMoney,
  humanMs,
  parseDuration,
  parsePositiveInt,
  relativeTime,
  sumMicros,
  ttlCountdown,
} from "./format";

describe("parseDuration", () => {
  it.each([
    ["90", 90],
    ["90s", 90],
    ["10m", 600],
    ["1h", 3600],
    ["1h30m", 5400],
    ["1h30m15s", 5415],
    ["2d", 172_800],
    ["0h5m", 300],
    [" 45s ", 45],
  ])("%s → %i seconds", (input, seconds) => {
    expect(parseDuration(input, "--ttl")).toBe(seconds);
  });

  it.each([
    ["0", /zero/],
    ["0s", /zero/],
    ["0h0m", /zero/],
    ["-5", /negative/],
    ["-10m", /negative/],
    ["", /required/],
    ["abc", /not a duration/],
    ["1.5h", /not a duration/],
    ["1h30", /not a duration/],
    ["30m1h", /not a duration/],
    ["10 m", /not a duration/],
    ["10M", /not a duration/],
    ["1w", /not a duration/],
    ["1e3", /not a duration/],
    ["0x10", /not a duration/],
    ["99999999999999999999", /too large/],
    ["400d", /longer than a year/],
  ])("rejects %j", (input, message) => {
    let error: unknown;
    try {
      parseDuration(input, "--ttl");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(ExitCode.USAGE);
    expect((error as Error).message).toMatch(/^--ttl: /);
    expect((error as Error).message).toMatch(message);
  });

  it("names the flag it parses", () => {
    expect(() => parseDuration("soon", "--by")).toThrow(/^--by: "soon" is not a duration/);
  });
});

describe("parsePositiveInt", () => {
  it("accepts whole numbers within the bound", () => {
    expect(parsePositiveInt("50", "--limit", 200)).toBe(50);
  });
  it.each(["0", "-1", "1.5", "ten", "201"])("rejects %j", (v) => {
    expect(() => parsePositiveInt(v, "--limit", 200)).toThrow(/^--limit: /);
  });
});

describe("formatMoney", () => {
  it.each([
    ["130", "$0.000130"],
    ["0", "$0.000000"],
    ["1", "$0.000001"],
    ["100000000", "$100.000000"],
    ["1234567", "$1.234567"],
    ["-500000", "-$0.500000"],
    // Beyond 2^53: exact, because it never becomes a float.
    ["9007199254740993", "$9007199254.740993"],
  ])("%s µ$ → %s", (micros, text) => {
    expect(formatMoney(micros)).toBe(text);
  });
  it("takes bigints and shows a dash for null", () => {
    expect(formatMoney(26n)).toBe("$0.000026");
    expect(formatMoney(null)).toBe("—");
    expect(formatMoney(undefined)).toBe("—");
  });
  it("sums micro-dollar strings exactly", () => {
    expect(sumMicros(["9007199254740993", "1", null, "6"])).toBe(9007199254741000n);
  });
});

describe("durations for people", () => {
  it.each([
    [0, "0ms"],
    [850, "850ms"],
    [1_000, "1s"],
    [45_999, "45s"],
    [60_000, "1m"],
    [245_000, "4m 05s"],
    [3_600_000, "1h"],
    [5_400_000, "1h 30m"],
    [90_000_000, "1d 1h"],
    [-5_000, "-5s"],
  ])("humanMs(%i) = %s", (ms, text) => {
    expect(humanMs(ms)).toBe(text);
  });

  it.each([
    [45, "45s"],
    [600, "10m"],
    [5400, "1h30m"],
    [5415, "1h30m15s"],
    [86_400, "1d"],
  ])("compactSeconds(%i) = %s (parseDuration's inverse)", (s, text) => {
    expect(compactSeconds(s)).toBe(text);
    expect(parseDuration(text, "--ttl")).toBe(s);
  });

  it("says how far a time is from now", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    expect(relativeTime("2026-12-01T00:04:05Z", now)).toBe("in 4m 05s");
    expect(relativeTime("2026-11-30T23:59:48Z", now)).toBe("12s ago");
    expect(relativeTime(null, now)).toBe("—");
  });

  it("counts a TTL down", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    expect(ttlCountdown({ state: "ready", expiresAt: "2026-12-01T00:09:30Z", ttlSeconds: 600 }, now)).toBe("in 9m 30s");
    expect(ttlCountdown({ state: "requested", expiresAt: null, ttlSeconds: 600 }, now)).toBe("10m once ready");
    expect(ttlCountdown({ state: "destroyed", expiresAt: "2026-12-01T00:09:30Z", ttlSeconds: 600 }, now)).toBe("—");
    expect(ttlCountdown({ state: "ready", expiresAt: "2026-11-30T23:59:58Z", ttlSeconds: 600 }, now)).toBe("due (2s ago)");
  });
});

describe("toCliError", () => {
  const url = "http://127.0.0.1:3000";
  const trpcError = (message: string, data: Record<string, unknown>) => Object.assign(new Error(message), { data });

  it.each([
    [{ code: "BAD_REQUEST", appCode: "INVALID_INPUT" }, ExitCode.USAGE],
    [{ code: "BAD_REQUEST", appCode: null }, ExitCode.USAGE],
    [{ code: "NOT_FOUND", appCode: "NOT_FOUND" }, ExitCode.NOT_FOUND],
    [{ code: "PAYMENT_REQUIRED", appCode: "INSUFFICIENT_CREDITS" }, ExitCode.INSUFFICIENT_CREDITS],
    [{ code: "UNAUTHORIZED", appCode: null }, ExitCode.AUTH],
    [{ code: "FORBIDDEN", appCode: null }, ExitCode.AUTH],
    [{ code: "PRECONDITION_FAILED", appCode: "NO_ELIGIBLE_PROVIDER" }, ExitCode.PRECONDITION],
    [{ code: "PRECONDITION_FAILED", appCode: "CANNOT_EXTEND" }, ExitCode.PRECONDITION],
    [{ code: "CONFLICT", appCode: "CONFLICT" }, ExitCode.PRECONDITION],
    [{ code: "INTERNAL_SERVER_ERROR", appCode: null }, ExitCode.UNEXPECTED],
  ])("maps %j to exit %i", (data, exit) => {
    expect(toCliError(trpcError("boom", data), { url }).exitCode).toBe(exit);
  });

  it("prefixes the field at fault unless the message already names it", () => {
    const e = toCliError(trpcError("TTL 7200s is above the maximum", { code: "BAD_REQUEST", appCode: "INVALID_INPUT", field: "ttlSeconds" }), { url });
    expect(e.message).toBe("ttlSeconds: TTL 7200s is above the maximum");
    const z = toCliError(trpcError("id: must be a sandbox id", { code: "BAD_REQUEST", appCode: null, field: "id" }), { url });
    expect(z.message).toBe("id: must be a sandbox id");
  });

  it("reports a refused connection as unreachable, naming the URL and `npm run up`", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3000"), { code: "ECONNREFUSED" });
    const err = new Error("fetch failed", { cause: new TypeError("fetch failed", { cause }) });
    const e = toCliError(err, { url });
    expect(e.exitCode).toBe(ExitCode.UNREACHABLE);
    expect(e.message).toContain(url);
    expect(e.message).toContain("connection refused");
    expect(e.message).toContain("npm run up");
  });

  it("says in words when an https URL meets a plain-http server, or a certificate is refused", () => {
    const wrap = (code: string, message: string) => new Error("fetch failed", { cause: new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) }) });
    const https = "https://127.0.0.1:3000";
    const plain = toCliError(wrap("ERR_SSL_WRONG_VERSION_NUMBER", "80DC30B3:error:0A00010B:SSL routines:ssl3_get_record:wrong version number"), { url: https });
    expect(plain.exitCode).toBe(ExitCode.UNREACHABLE);
    expect(plain.message).toBe(`the server at ${https} did not answer in TLS (ERR_SSL_WRONG_VERSION_NUMBER); if it serves plain HTTP, use http://127.0.0.1:3000`);
    expect(plain.message).not.toMatch(/SSL routines/);
    const cert = toCliError(wrap("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"), { url: https });
    expect(cert.exitCode).toBe(ExitCode.UNREACHABLE);
    expect(cert.message).toMatch(/TLS certificate of https:\/\/127\.0\.0\.1:3000 was not accepted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  });

  it("reports a timeout as unreachable", () => {
    const cause = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(toCliError(new Error("x", { cause }), { url }).exitCode).toBe(ExitCode.UNREACHABLE);
  });

  it("keeps CliErrors as they are", () => {
    const e = new CliError("nope", ExitCode.SANDBOX_FAILED);
    expect(toCliError(e, { url })).toBe(e);
  });
});
