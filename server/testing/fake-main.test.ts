import { describe, expect, it } from "vitest";
import { parseFakeArgs } from "./fake-main";

const spec = {
  port: { type: "int", min: 0, default: "0" },
  host: { type: "string", default: "127.0.0.1" },
  "page-size": { type: "int", min: 1 },
  "api-key": { type: "string", multiple: true },
} as const;

describe("the fakes' flags", () => {
  it("gives defaults, an empty list for a repeatable flag never given, and undefined otherwise", () => {
    expect(parseFakeArgs([], "usage", spec)).toEqual({ port: 0, host: "127.0.0.1", "page-size": undefined, "api-key": [] });
  });

  it("reads whole numbers, inline values and repeated flags", () => {
    expect(parseFakeArgs(["--port", "4000", "--page-size=3", "--api-key", "a", "--api-key=b"], "usage", spec)).toEqual({
      port: 4000,
      host: "127.0.0.1",
      "page-size": 3,
      "api-key": ["a", "b"],
    });
  });
});
