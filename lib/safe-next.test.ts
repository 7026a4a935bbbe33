import { describe, expect, it } from "vitest";
import { safeNext } from "./safe-next";

describe("where sign-in may send someone", () => {
  it.each(["/sandboxes", "/sandboxes/sbx_1?tab=events", "/usage?from=2026-11-01#chart", "/settings/api-keys"])("keeps a path on this site: %s", (path) => {
    expect(safeNext(path)).toBe(path);
  });

  it.each([
    null,
    undefined,
    "",
    "sandboxes",
    "https://evil.test/",
    "//evil.test/x",
    "/\\evil.test/x",
    "/\\\\evil.test",
    "\\/evil.test",
    "/\t/evil.test",
    "/\n/evil.test",
    "/%0a/evil.test".replace("%0a", "\r"),
    "javascript:alert(1)",
    "/\u0000/evil.test",
  ])("sends anything else home: %j", (next) => {
    expect(safeNext(next)).toBe("/sandboxes");
  });

  it("normalises a path that climbs out of the root without leaving the site", () => {
    expect(safeNext("/../../sandboxes")).toBe("/sandboxes");
  });
});
