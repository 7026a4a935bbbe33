import { describe, expect, it } from "vitest";
import { loadEnv } from "./env";
import { metricsAllowed } from "./metrics";

const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

describe("metrics access", () => {
  const token = "metrics-token-0123456789abcdef-xyz";

  it("is open when no token is configured", () => {
    expect(metricsAllowed(undefined, undefined)).toBe(true);
    expect(metricsAllowed("Bearer anything", undefined)).toBe(true);
  });

  it("needs exactly the configured bearer token when one is set", () => {
    expect(metricsAllowed(undefined, token)).toBe(false);
    expect(metricsAllowed("", token)).toBe(false);
    expect(metricsAllowed(token, token)).toBe(false); // no scheme
    expect(metricsAllowed(`Basic ${token}`, token)).toBe(false);
    expect(metricsAllowed(`Bearer ${token}x`, token)).toBe(false);
    expect(metricsAllowed(`Bearer ${token.slice(0, -1)}`, token)).toBe(false);
    expect(metricsAllowed(`Bearer ${token}`, token)).toBe(true);
    expect(metricsAllowed(`bearer  ${token}`, token)).toBe(true);
  });

  it("refuses a token too short to be a secret at start-up, naming the variable", () => {
    expect(() => loadEnv(env({ SANDBOXER_METRICS_TOKEN: "short" }))).toThrow(/SANDBOXER_METRICS_TOKEN.*at least 32 characters/s);
    expect(loadEnv(env({ SANDBOXER_METRICS_TOKEN: "" })).SANDBOXER_METRICS_TOKEN).toBeUndefined();
  });

  it("refuses a BYOK OpenBao path that is a bare prefix (team t1 would match teams/t12/…)", () => {
    for (const bad of ["teams/{team}", "teams/", "byok/{team}-keys"])
      expect(() => loadEnv(env({ SANDBOXER_BYOK_OPENBAO_PATH: bad }))).toThrow(/SANDBOXER_BYOK_OPENBAO_PATH.*ending in "\/"/s);
    for (const good of ["teams/{team}/", "*", "kv/orgs/{team}/sandboxer/"])
      expect(loadEnv(env({ SANDBOXER_BYOK_OPENBAO_PATH: good })).SANDBOXER_BYOK_OPENBAO_PATH).toBe(good);
  });
});
