import { describe, expect, it } from "vitest";
import { parseSecretRef } from "./secrets";

describe("secret reference grammar", () => {
  it("reads the three schemes", () => {
    expect(parseSecretRef("env:E2B_API_KEY")).toEqual({ scheme: "env", name: "E2B_API_KEY" });
    expect(parseSecretRef("file:/run/secrets/e2b")).toEqual({ scheme: "file", path: "/run/secrets/e2b" });
    expect(parseSecretRef("openbao://secret/teams/t1/e2b#api_key")).toEqual({ scheme: "openbao", mount: "secret", secretPath: "teams/t1/e2b", field: "api_key" });
  });

  it.each([
    "openbao://../teams/t1/e2b#api_key",
    "openbao://./teams/t1/e2b#api_key",
    "openbao://secret/teams/t1/../t2/e2b#api_key",
    "openbao://secret/teams/t1/./e2b#api_key",
    "openbao://secret/teams//t1/e2b#api_key",
    "openbao://secret/teams/t1/e2b/#api_key",
    "openbao://secret/teams/t1/e2b",
    "file:/run/../etc/passwd",
    "file:relative/path",
    "env:",
    "E2B_API_KEY",
  ])("refuses %s", (ref) => {
    expect(parseSecretRef(ref)).toBeNull();
  });
});
