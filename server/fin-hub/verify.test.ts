import { describe, expect, it } from "vitest";
import { loadEnv as load } from "../env";

const loadEnv = (vars: Record<string, string>) => load(vars as NodeJS.ProcessEnv);
import { finHubBackoffMs, finHubConfig, parseRetryAfter } from "./config";
import { formatDurationSeconds, serializeBatch, type FinHubSourceRow } from "./payload";
import { computeSignature, signatureHeaders, verify } from "./verify";

const SECRET = "s3cret-for-tests-only-0123456789abcdef";
const NOW = new Date("2026-12-01T12:00:00.000Z");

const row = (over: Partial<FinHubSourceRow>): FinHubSourceRow => ({
  id: "use_1",
  sandboxId: "sbx_1",
  teamId: "team_1",
  teamName: "Team",
  extensionId: "ext.saas-stub",
  profileId: "profile.burst-sandbox",
  providerSandboxId: "stub-1",
  startedAt: new Date("2026-12-01T10:00:00.000Z"),
  endedAt: new Date("2026-12-01T10:00:01.234Z"),
  durationMs: 1234,
  resources: { vcpu: 2, memoryMiB: 512, gpu: 0, gpuType: null },
  rateCardVersion: "stub-2026-12-01",
  currency: "USD",
  costMicros: 130n,
  credentialSource: "platform",
  endReason: "destroy requested",
  ...over,
});

/** A body full of what breaks naive signing: non-ASCII, escapes, numbers that look like strings. */
function awkwardBody() {
  return serializeBatch({ id: "fhb_test", seq: 42, createdAt: NOW }, [
    row({ id: "use_a", teamName: "Zürich Ωmega ☃ 東京 😀", costMicros: 1n }),
    row({ id: "use_b", teamName: 'Quote "q" \\ back\\slash\nnew line\t\u0000\u2028', costMicros: 999_999n }),
    row({ id: "use_c", teamName: "0012345", rateCardVersion: "1e3", endReason: "-1", costMicros: 1_000_000n }),
    row({ id: "use_d", teamName: "=SUM(A1)+1", providerSandboxId: null, costMicros: 12_345_678_901n }),
  ]);
}

describe("signature", () => {
  it("verifies bodies with non-ASCII names, escapes and numeric-looking strings against the raw bytes", () => {
    const body = awkwardBody();
    const raw = Buffer.from(body.text, "utf8");
    const headers = signatureHeaders([SECRET], raw, NOW);
    expect(verify(raw, headers, SECRET, { now: NOW })).toEqual({ ok: true, timestamp: NOW.getTime() / 1000 });
    // The same check on the string form (as a framework might hand it over) gives the same answer.
    expect(verify(body.text, headers, SECRET, { now: NOW }).ok).toBe(true);

    // The values survive: amounts are exact strings, names are intact.
    const parsed = JSON.parse(raw.toString("utf8"));
    expect(parsed.records.map((r: { team: { name: string } }) => r.team.name)).toEqual([
      "Zürich Ωmega ☃ 東京 😀",
      'Quote "q" \\ back\\slash\nnew line\t\u0000\u2028',
      "0012345",
      "=SUM(A1)+1",
    ]);
    expect(parsed.records.map((r: { cost: string }) => r.cost)).toEqual(["0.000001", "0.999999", "1.000000", "12345.678901"]);
    expect(parsed.totals).toEqual([{ currency: "USD", cost: "12347.678901", cost_micros: "12347678901" }]);

    // Re-serializing the parsed JSON is NOT the same bytes; only the raw body verifies.
    const reencoded = JSON.stringify(parsed, null, 1);
    expect(verify(reencoded, headers, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "signature_mismatch" });
    // One changed digit of one amount is caught.
    const tampered = body.text.replace('"cost":"0.999999"', '"cost":"0.999998"');
    expect(tampered).not.toBe(body.text);
    expect(verify(tampered, headers, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "signature_mismatch" });
  });

  it("rejects an old timestamp, one from the future, a missing or malformed header and the wrong secret", () => {
    const raw = awkwardBody().text;
    const headers = signatureHeaders([SECRET], raw, NOW);
    const later = (s: number) => new Date(NOW.getTime() + s * 1000);
    expect(verify(raw, headers, SECRET, { now: later(300) }).ok).toBe(true);
    expect(verify(raw, headers, SECRET, { now: later(301) })).toMatchObject({ ok: false, reason: "timestamp_too_old" });
    expect(verify(raw, headers, SECRET, { now: later(-301) })).toMatchObject({ ok: false, reason: "timestamp_in_future" });
    expect(verify(raw, headers, SECRET, { now: later(60), toleranceSeconds: 30 })).toMatchObject({ ok: false, reason: "timestamp_too_old" });
    // A replay with a fresh timestamp but the old signature fails: the timestamp is signed.
    const replay = { ...headers, "x-sandboxer-timestamp": String(Math.floor(later(600).getTime() / 1000)) };
    expect(verify(raw, replay, SECRET, { now: later(600) })).toMatchObject({ ok: false, reason: "signature_mismatch" });

    expect(verify(raw, {}, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "missing_timestamp" });
    expect(verify(raw, { "x-sandboxer-timestamp": "yesterday" }, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "malformed_timestamp" });
    expect(verify(raw, { "x-sandboxer-timestamp": headers["x-sandboxer-timestamp"] }, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "missing_signature" });
    expect(verify(raw, { ...headers, "x-sandboxer-signature": "v1=abc" }, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "malformed_signature" });
    expect(verify(raw, { ...headers, "x-sandboxer-signature": "v0=abc" }, SECRET, { now: NOW })).toMatchObject({ ok: false, reason: "malformed_signature" });
    expect(verify(raw, headers, "another-secret-entirely-0123456789abc", { now: NOW })).toMatchObject({ ok: false, reason: "signature_mismatch" });
  });

  it("accepts either secret during a rotation, and reads Headers objects and Node's header records", () => {
    const raw = Buffer.from(awkwardBody().text, "utf8");
    const next = "the-new-secret-after-rotation-0123456789";
    const headers = signatureHeaders([next, SECRET], raw, NOW);
    expect(headers["x-sandboxer-signature"]).toMatch(/^v1=[0-9a-f]{64}, v1=[0-9a-f]{64}$/);
    expect(verify(raw, headers, SECRET, { now: NOW }).ok).toBe(true);
    expect(verify(raw, headers, next, { now: NOW }).ok).toBe(true);
    expect(verify(raw, headers, ["unrelated-secret-0123456789abcdefgh", next], { now: NOW }).ok).toBe(true);
    expect(verify(raw, new Headers(headers), SECRET, { now: NOW }).ok).toBe(true);
    const nodeStyle = { "X-Sandboxer-Timestamp": headers["x-sandboxer-timestamp"], "x-sandboxer-signature": [headers["x-sandboxer-signature"]!] };
    expect(verify(raw, nodeStyle, SECRET, { now: NOW }).ok).toBe(true);
  });

  it("signs `<timestamp>.<body>` with HMAC-SHA256 (a fixed vector for other implementations)", () => {
    // printf '1767225600.{"a":"é"}' | openssl dgst -sha256 -hmac secret
    const expected = "74a26c60ed2323f1124a4669ef89de8f65cb7ddf5e673606d1659878e830f639";
    expect(computeSignature("secret", 1767225600, '{"a":"é"}')).toBe(expected);
    expect(computeSignature("secret", "1767225600", Buffer.from('{"a":"é"}', "utf8"))).toBe(expected);
  });
});

describe("payload", () => {
  it("writes durations as exact seconds and serializes the same rows to the same bytes", () => {
    expect(formatDurationSeconds(0)).toBe("0");
    expect(formatDurationSeconds(1234)).toBe("1.234");
    expect(formatDurationSeconds(1200)).toBe("1.2");
    expect(formatDurationSeconds(3_599_999)).toBe("3599.999");
    expect(awkwardBody().text).toBe(awkwardBody().text);
    // Built by concatenation, the body is still exactly JSON.stringify of what it says.
    const text = awkwardBody().text;
    expect(JSON.stringify(JSON.parse(text))).toBe(text);
    expect(awkwardBody().sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("configuration", () => {
  it("is off without a URL, and a bad URL or missing secret stops start-up naming the variable", () => {
    expect(finHubConfig(loadEnv({}))).toBeNull();
    expect(() => loadEnv({ SANDBOXER_FIN_HUB_URL: "http://127.0.0.1:4319/batches" })).toThrow(
      /SANDBOXER_FIN_HUB_SECRET: is required when SANDBOXER_FIN_HUB_URL is set/,
    );
    expect(() => loadEnv({ SANDBOXER_FIN_HUB_URL: "fin-hub.internal/batches", SANDBOXER_FIN_HUB_SECRET: SECRET })).toThrow(
      /SANDBOXER_FIN_HUB_URL: must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => loadEnv({ SANDBOXER_FIN_HUB_URL: "https://fin-hub.example.com/v1/batches", SANDBOXER_FIN_HUB_SECRET: "short" })).toThrow(
      /SANDBOXER_FIN_HUB_SECRET: must be at least 32 characters/,
    );
    expect(() => loadEnv({ SANDBOXER_FIN_HUB_URL: "https://fin-hub.example.com/v1/batches", SANDBOXER_FIN_HUB_SECRET: SECRET, SANDBOXER_FIN_HUB_INTERVAL_MS: "10" })).toThrow(
      /SANDBOXER_FIN_HUB_INTERVAL_MS/,
    );
    const cfg = finHubConfig(
      loadEnv({
        SANDBOXER_FIN_HUB_URL: "https://fin-hub.example.com/v1/batches",
        SANDBOXER_FIN_HUB_SECRET: SECRET,
        SANDBOXER_FIN_HUB_SECRET_PREVIOUS: "previous-secret-0123456789abcdefghij",
        SANDBOXER_FIN_HUB_INTERVAL_MS: "2000",
        SANDBOXER_FIN_HUB_BATCH_SIZE: "500",
      }),
    );
    expect(cfg).toMatchObject({ url: "https://fin-hub.example.com/v1/batches", intervalMs: 2000, batchSize: 500, attempts: 8 });
    expect(cfg!.secrets).toEqual([SECRET, "previous-secret-0123456789abcdefghij"]);
  });

  it("refuses odd numbers and a secret with surrounding whitespace, naming the variable; empty means the default", () => {
    const on = { SANDBOXER_FIN_HUB_URL: "https://fin-hub.example.com/v1/batches", SANDBOXER_FIN_HUB_SECRET: SECRET };
    // Each of these used to be taken: hex, an exponent (31 years), a unit, a fraction, whitespace.
    for (const [name, value] of [
      ["SANDBOXER_FIN_HUB_INTERVAL_MS", "0x10000"],
      ["SANDBOXER_FIN_HUB_INTERVAL_MS", "1e12"],
      ["SANDBOXER_FIN_HUB_INTERVAL_MS", "10s"],
      ["SANDBOXER_FIN_HUB_INTERVAL_MS", "-5000"],
      ["SANDBOXER_FIN_HUB_BATCH_SIZE", "1.5"],
      ["SANDBOXER_FIN_HUB_TIMEOUT_MS", "Infinity"],
      ["SANDBOXER_FIN_HUB_ATTEMPTS", "0"],
      ["SANDBOXER_SWEEP_INTERVAL_MS", "5e3"],
      ["SANDBOXER_SHUTDOWN_GRACE_MS", "30s"],
      ["SANDBOXER_WORKER_HEALTH_PORT", "abc"],
      ["SANDBOXER_WORKER_HEALTH_PORT", "99999"],
    ]) {
      expect(() => loadEnv({ ...on, [name!]: value }), `${name}=${value}`).toThrow(
        new RegExp(`${name}: must be a whole number.* from \\d+ to \\d+.*\\(got "${value!.replace(".", "\\.")}"\\)`),
      );
    }
    const env = loadEnv({ ...on, SANDBOXER_FIN_HUB_INTERVAL_MS: "", SANDBOXER_FIN_HUB_BATCH_SIZE: " 250 ", SANDBOXER_SHUTDOWN_GRACE_MS: "0" });
    expect(env).toMatchObject({ SANDBOXER_FIN_HUB_INTERVAL_MS: 10_000, SANDBOXER_FIN_HUB_BATCH_SIZE: 250, SANDBOXER_SHUTDOWN_GRACE_MS: 0, SANDBOXER_WORKER_HEALTH_PORT: 0 });
    expect(env.SANDBOXER_WORKER_HEALTH_HOST).toBe("127.0.0.1");
    // A secret read from a file with its newline, or all spaces: signatures fin-hub would never match.
    for (const secret of [`${SECRET}\n`, ` ${SECRET}`, " ".repeat(40)]) {
      expect(() => loadEnv({ ...on, SANDBOXER_FIN_HUB_SECRET: secret })).toThrow(/SANDBOXER_FIN_HUB_SECRET: must not start or end with a space or line break/);
      expect(() => loadEnv({ ...on, SANDBOXER_FIN_HUB_SECRET_PREVIOUS: secret })).toThrow(/SANDBOXER_FIN_HUB_SECRET_PREVIOUS: must not start or end/);
    }
  });

  it("backs off exponentially, capped, never sooner than Retry-After", () => {
    const c = { backoffBaseMs: 1000, maxBackoffMs: 300_000 };
    expect([1, 2, 3, 4].map((a) => finHubBackoffMs(c, a))).toEqual([1000, 2000, 4000, 8000]);
    expect(finHubBackoffMs(c, 30)).toBe(300_000);
    expect(finHubBackoffMs(c, 1, 120_000)).toBe(120_000);
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(new Date(NOW.getTime() + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
