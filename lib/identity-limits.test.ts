import { describe, expect, it } from "vitest";
import { checkSignUp, fieldOfAuthError } from "./identity-limits";

const ok = { name: "Ada", email: "ada@example.test", password: "correct-horse" };

describe("sign-up checks before sending", () => {
  it("passes a plain sign-up", () => {
    expect(checkSignUp(ok)).toEqual({});
  });

  it.each([
    [{ name: "n".repeat(101) }, { name: "Use at most 100 characters." }],
    [{ name: "Tab\there" }, { name: "Remove line breaks, tabs and other control characters." }],
    [{ name: "\u202eevil" }, { name: "Remove line breaks, tabs and other control characters." }],
    [{ name: "" }, { name: "Enter your name." }],
    [{ email: `${"e".repeat(200)}@x.test` }, { email: "Use at most 200 characters." }],
    [{ email: "a@b.test\u0007" }, { email: "Enter a valid email address." }],
    [{ email: "not-an-email" }, { email: "Enter a valid email address." }],
    [{ password: "short" }, { password: "Use at least 8 characters." }],
    [{ password: "p".repeat(129) }, { password: "Use at most 128 characters." }],
  ])("says what is wrong beside the field: %j", (change, errors) => {
    expect(checkSignUp({ ...ok, ...change })).toEqual(errors);
  });

  it("keeps names of exactly the limit, and unicode, RTL letters and emoji", () => {
    expect(checkSignUp({ ...ok, name: "n".repeat(100) })).toEqual({});
    expect(checkSignUp({ ...ok, name: "זאב 🦊 Ünïcødé" })).toEqual({});
  });
});

describe("the server's refusal of a field", () => {
  it("is put beside that field as a sentence", () => {
    expect(fieldOfAuthError("name: at most 100 characters")).toEqual({
      name: "At most 100 characters.",
    });
    expect(
      fieldOfAuthError(
        "email: must not contain control characters (line breaks, tabs, escape codes)",
      ),
    ).toEqual({
      email: "Must not contain control characters (line breaks, tabs, escape codes).",
    });
  });

  it("is not guessed when it names no field of the form", () => {
    expect(fieldOfAuthError("slug: at most 100 characters")).toBeNull();
    expect(fieldOfAuthError(undefined)).toBeNull();
    expect(fieldOfAuthError("Something else")).toBeNull();
  });
});
