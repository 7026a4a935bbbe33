import { describe, expect, it } from "vitest";
import { apiKeyProblem, checkFlags, debugEnabled, normaliseUrl, requestTimeoutMs } from "./config";
import { CliError, ExitCode, toCliError, UsageError } from "./errors";
import {
  compactSeconds,
  formatMoney,
  humanMs,
  humanSeconds,
  parseDuration,
  parsePositiveInt,
  printable,
  printableLines,
  relativeTime,
  sumMicros,
  ttlCountdown,
  withoutRepeats,
} from "./format";
import { keyValues, table } from "./render";

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

  it.each([
    [45, "45s"],
    [90, "1m 30s"],
    [600, "10m"],
    [3605, "1h 05s"],
    [5400, "1h 30m"],
    [5415, "1h 30m 15s"],
    [86_400, "1d"],
    [90_000, "1d 1h"],
  ])("humanSeconds(%i) = %s: exact, in humanMs's style", (s, text) => {
    expect(humanSeconds(s)).toBe(text);
  });

  it("gives a whole number of minutes or hours the same text as humanMs", () => {
    for (const s of [45, 60, 90, 600, 3600, 5400, 86_400]) expect(humanSeconds(s)).toBe(humanMs(s * 1000));
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
    expect(ttlCountdown({ state: "requested", expiresAt: null, ttlSeconds: 90 }, now)).toBe("1m 30s once ready");
    expect(ttlCountdown({ state: "destroyed", expiresAt: "2026-12-01T00:09:30Z", ttlSeconds: 600 }, now)).toBe("—");
    expect(ttlCountdown({ state: "ready", expiresAt: "2026-11-30T23:59:58Z", ttlSeconds: 600 }, now)).toBe("due (2s ago)");
  });
});

describe("server strings on a terminal", () => {
  const hostile = "\u001b[2J\u001b]8;;http://evil/\u0007link\u009b31m\u202eevil\u2069\r\n\tx\u007f";

  it("escapes C0, DEL, C1 and bidi override characters in a value, newlines included", () => {
    expect(printable(hostile)).toBe("\\x1b[2J\\x1b]8;;http://evil/\\x07link\\x9b31m\\u202eevil\\u2069\\x0d\\x0a\\x09x\\x7f");
    expect(printable("plain café — ok ✓")).toBe("plain café — ok ✓");
  });

  it("keeps the CLI's own line breaks in whole output", () => {
    expect(printableLines("line one\u001b[2J\nline two\r\n")).toBe("line one\\x1b[2J\nline two\\x0d\n");
  });

  it("escapes table cells and key-value values before measuring them, so the columns line up", () => {
    for (const out of [table(["NAME", "N"], [[hostile, 1], ["short", 2]]), keyValues([["team", hostile], ["role", "owner"]])]) {
      // eslint-disable-next-line no-control-regex -- what must not reach the terminal
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      expect(out).toContain("\\x1b[2J");
      expect(new Set(out.split("\n").map((l) => [...l].length)).size).toBe(1);
    }
  });
});

describe("withoutRepeats", () => {
  it.each([
    ["E2B kill: HTTP 409: 409: sandbox is busy: it is being killed or paused", "E2B kill: HTTP 409: sandbox is busy: it is being killed or paused"],
    ["E2B create: HTTP 409 (retry after 2 s): 409: busy", "E2B create: HTTP 409 (retry after 2 s): busy"],
    ["E2B create: HTTP 429: Rate limit exceeded, please try again later - Rate limit exceeded", "E2B create: HTTP 429: Rate limit exceeded, please try again later"],
    [
      "no provider could create the sandbox (ext.e2b: create failed: rate_limited: E2B create: HTTP 429: Rate limit exceeded, please try again later - Rate limit exceeded, please try again later; ext.modal: skipped)",
      "no provider could create the sandbox (ext.e2b: create failed: rate_limited: E2B create: HTTP 429: Rate limit exceeded, please try again later; ext.modal: skipped)",
    ],
    ["E2B create: HTTP 503: Service temporarily unavailable - Service temporarily unavailable, please retry", "E2B create: HTTP 503: Service temporarily unavailable, please retry"],
  ])("%s", (input, output) => {
    expect(withoutRepeats(input)).toBe(output);
  });

  it.each([
    "E2B create: HTTP 429: Rate limit exceeded, please try again later - You have reached the maximum number of concurrent E2B sandboxes (20)",
    "E2B get: HTTP 404: sandbox not found",
    "HTTP 409: 408: not the same status",
    "Team A - B",
  ])("leaves %j alone", (text) => {
    expect(withoutRepeats(text)).toBe(text);
  });
});

describe("flags and environment", () => {
  it("refuses an explicitly empty --url or --api-key, naming it", () => {
    expect(() => checkFlags({ apiKey: "" })).toThrow(/^--api-key: the key is empty/);
    expect(() => checkFlags({ apiKey: "  " })).toThrow(/^--api-key: the key is empty/);
    expect(() => checkFlags({ url: "" })).toThrow(/^--url: the URL is empty/);
    expect(() => checkFlags({})).not.toThrow();
  });

  it("accepts API keys of printable ASCII and names what else a key holds, never quoting it", () => {
    expect(apiKeyProblem("sbxk_AbC-09._~")).toBeNull();
    expect(apiKeyProblem("sbxk_a\nb")).toMatch(/^it has a line break at position 7,/);
    expect(apiKeyProblem("sbxk_a\rb")).toMatch(/^it has a line break at position 7,/);
    expect(apiKeyProblem("sbxk a")).toMatch(/^it has a space at position 5,/);
    expect(apiKeyProblem("sbxk\ta")).toMatch(/^it has a tab at position 5,/);
    expect(apiKeyProblem("sbxk\u0000")).toMatch(/^it has a control character at position 5,/);
    expect(apiKeyProblem("sbxk\u009b")).toMatch(/^it has a control character at position 5,/);
    expect(apiKeyProblem("sbxk_é")).toMatch(/^it has a non-ASCII character \(U\+00E9\) at position 6,/);
    expect(apiKeyProblem("sbxk_😀x")).toMatch(/^it has a non-ASCII character \(U\+1F600\) at position 6,/);
    expect(apiKeyProblem("sbxk_a\nb")).not.toContain("sbxk_a");
  });

  it("takes a server URL without a query or fragment", () => {
    expect(normaliseUrl("http://127.0.0.1:3000/", "--url")).toBe("http://127.0.0.1:3000");
    expect(normaliseUrl(" https://sbx.example/base/ ", "--url")).toBe("https://sbx.example/base");
    expect(normaliseUrl("http://127.0.0.1:3000/?", "--url")).toBe("http://127.0.0.1:3000");
    expect(() => normaliseUrl("http://127.0.0.1:3000/?a=1", "--url")).toThrow(/^--url: "http:\/\/127\.0\.0\.1:3000\/\?a=1" has a query \(\?…\); give the server's base URL, e\.g\. http:\/\/127\.0\.0\.1:3000$/);
    expect(() => normaliseUrl("http://h/base/#x", "SANDBOXER_URL")).toThrow(/^SANDBOXER_URL: .* has a fragment \(#…\); give the server's base URL, e\.g\. http:\/\/h\/base$/);
  });

  it("reads SANDBOXER_TIMEOUT_MS strictly", () => {
    expect(requestTimeoutMs({})).toBe(30_000);
    expect(requestTimeoutMs({ SANDBOXER_TIMEOUT_MS: "" })).toBe(30_000);
    expect(requestTimeoutMs({ SANDBOXER_TIMEOUT_MS: " 5000 " })).toBe(5_000);
    for (const v of ["abc", "0", "-1", "1.5", "1e3", "30s", "2147483648"]) {
      expect(() => requestTimeoutMs({ SANDBOXER_TIMEOUT_MS: v }), v).toThrow(UsageError);
      expect(() => requestTimeoutMs({ SANDBOXER_TIMEOUT_MS: v })).toThrow(/^SANDBOXER_TIMEOUT_MS: .* must be a whole number of milliseconds/);
    }
  });

  it("reads SANDBOXER_DEBUG as 1 or 0", () => {
    expect(debugEnabled({})).toBe(false);
    expect(debugEnabled({ SANDBOXER_DEBUG: "0" })).toBe(false);
    expect(debugEnabled({ SANDBOXER_DEBUG: "1" })).toBe(true);
    expect(() => debugEnabled({ SANDBOXER_DEBUG: "true" })).toThrow(/^SANDBOXER_DEBUG: "true" must be 1/);
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

  it("follows a refused key with the hint it is given, else the general one", () => {
    const refused = trpcError("invalid API key", { code: "UNAUTHORIZED", appCode: null });
    expect(toCliError(refused, { url }).message).toBe("invalid API key — check the API key (--api-key, SANDBOXER_API_KEY or `sandboxer login`)");
    expect(toCliError(refused, { url, authHint: "nothing was saved; check the key given with --api-key" }).message).toBe(
      "invalid API key — nothing was saved; check the key given with --api-key",
    );
  });

  it("keeps CliErrors as they are", () => {
    const e = new CliError("nope", ExitCode.SANDBOX_FAILED);
    expect(toCliError(e, { url })).toBe(e);
  });
});
