import { describe, expect, it } from "vitest";
import { parseListQuery, statesFor } from "./sandbox-list-query";

const profiles = ["profile.burst-sandbox", "profile.modal-gpu"];
const extensions = ["ext.saas-stub", "ext.e2b"];
const parse = (q: string) => parseListQuery(new URLSearchParams(q), profiles, extensions);

describe("parseListQuery", () => {
  it("reads known filters, the page and its cursor", () => {
    expect(
      parse("state=active&profile=profile.modal-gpu&extension=e2b&cursor=sbx_abc123&page=3"),
    ).toEqual({
      filters: { state: "active", profile: "profile.modal-gpu", extension: "ext.e2b" },
      cursor: "sbx_abc123",
      page: 3,
      ignored: [],
    });
  });

  it("ignores a value it does not know instead of sending it to the API, and says which", () => {
    const q = parse("state=bogus&profile=nope&cursor=garbage");
    expect(q.filters).toEqual({ state: "", profile: "", extension: "" });
    expect(q.cursor).toBeUndefined();
    expect(q.page).toBe(1);
    expect(q.ignored).toEqual(["state “bogus”", "profile “nope”", "page position"]);
  });

  it("quotes a long value back shortened", () => {
    const q = parse(`extension=${"x".repeat(300)}`);
    expect(q.ignored[0]!.length).toBeLessThan(60);
  });

  it("a cursor without a page number is at least page 2", () => {
    expect(parse("cursor=sbx_abc").page).toBe(2);
    expect(parse("cursor=sbx_abc&page=0").page).toBe(2);
    expect(parse("page=5").page).toBe(1);
  });
});

describe("statesFor", () => {
  it("expands active to every state that can still change", () => {
    expect(statesFor("active")).toEqual(["requested", "provisioning", "ready", "destroying"]);
    expect(statesFor("")).toBeUndefined();
    expect(statesFor("failed")).toEqual(["failed"]);
  });
});
