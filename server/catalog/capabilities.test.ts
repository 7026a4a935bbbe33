import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCapabilities } from "./capabilities";

describe("capability registry", () => {
  const capabilities = loadCapabilities();

  it("has unique ids", () => {
    const ids = capabilities.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("names only files that exist", () => {
    for (const c of capabilities) {
      for (const f of [...c.tests, ...c.docs]) expect(fs.existsSync(f), `${c.id}: ${f}`).toBe(true);
    }
  });

  it("claims beta or stable only with tests behind it, and adapters only with a runbook", () => {
    for (const c of capabilities.filter((c) => c.level === "beta" || c.level === "stable")) {
      expect(c.tests.length, `${c.id} has no tests`).toBeGreaterThan(0);
      if (c.id.startsWith("adapter.") && c.id !== "adapter.saas-stub") {
        expect(c.docs.some((d) => d.startsWith("docs/runbooks/")), `${c.id} has no runbook`).toBe(true);
      }
    }
  });
});
