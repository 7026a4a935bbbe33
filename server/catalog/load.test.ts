import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadCatalog } from "./load";

const dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-catalog-"));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const stub = fs.readFileSync(path.join("profiles", "extensions", "saas-stub.yaml"), "utf8");
const profile = (extra = "", route = "  - ext.saas-stub") =>
  `id: profile.p\nname: P\npricing_model: metered\nresources:\n  vcpu: 1\n  memory_mib: 256\ntemplate: base\nttl:\n  default_seconds: 60\n  max_seconds: 600\n${extra}route:\n${route}\n`;

function problemsOf(dir: string): string[] {
  try {
    loadCatalog(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadCatalog", () => {
  it("loads the shipped profiles and manifests", () => {
    const catalog = loadCatalog("profiles");
    expect([...catalog.profiles.keys()].sort()).toEqual([
      "profile.burst-sandbox",
      "profile.e2b-burst",
      "profile.modal-gpu",
    ]);
    expect(catalog.profiles.get("profile.burst-sandbox")?.route).toEqual(["ext.e2b", "ext.modal", "ext.saas-stub"]);
    expect(catalog.extensions.get("ext.e2b")?.rates(null).vcpuSecondPico).toBe(14_000_000n);
    expect(catalog.extensions.get("ext.modal")?.rates("H100").gpuSecondPico).toBe(1_097_000_000n);
  });

  it("names file, line and field for an unknown extension in a route", () => {
    const dir = tree({ "extensions/stub.yaml": stub, "p.yaml": profile("", "  - ext.saas-stub\n  - ext.nope") });
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/p\.yaml:13:5: route\[1\]: unknown extension "ext\.nope"/)]);
  });

  it("rejects unknown fields with their line", () => {
    const dir = tree({ "extensions/stub.yaml": stub, "p.yaml": profile("colour: blue\n") });
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/p\.yaml:11:1: colour: unknown field/)]);
  });

  it("rejects non-positive and fractional TTLs", () => {
    const dir = tree({
      "extensions/stub.yaml": stub,
      "p.yaml": profile().replace("default_seconds: 60", "default_seconds: 0").replace("max_seconds: 600", "max_seconds: 1.5"),
    });
    const problems = problemsOf(dir);
    expect(problems).toContainEqual(expect.stringMatching(/p\.yaml:9:20: ttl\.default_seconds: must be positive/));
    expect(problems).toContainEqual(expect.stringMatching(/p\.yaml:10:16: ttl\.max_seconds: must be a whole number/));
  });

  it("rejects duplicate ids across files", () => {
    const dir = tree({ "extensions/stub.yaml": stub, "a.yaml": profile(), "b.yaml": profile() });
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/b\.yaml: id: duplicate profile id profile\.p \(also in .*a\.yaml\)/)]);
  });

  it("rejects rates written as bare floats and duplicate keys", () => {
    const dir = tree({
      "extensions/stub.yaml": stub.replace('vcpu_second: "0.000012"', "vcpu_second: 0.000012"),
      "p.yaml": profile("template: again\n"),
    });
    const problems = problemsOf(dir);
    expect(problems).toContainEqual(expect.stringMatching(/stub\.yaml:\d+:\d+: pricing\.vcpu_second: must be a quoted decimal string/));
    expect(problems).toContainEqual(expect.stringMatching(/p\.yaml:11:1: Map keys must be unique$/));
  });

  it("says a required field is missing, in whatever type, and names an empty file and a second document", () => {
    const dir = tree({
      "extensions/stub.yaml": stub,
      "a.yaml": profile().replace("pricing_model: metered\n", "").replace("template: base\n", "").replace("  max_seconds: 600\n", ""),
      "b.yaml": "",
      "c.yaml": `${profile().replace("id: profile.p", "id: profile.c")}---\nid: profile.d\n`,
    });
    const problems = problemsOf(dir);
    expect(problems).toContainEqual(expect.stringMatching(/a\.yaml:1:1: pricing_model: required field is missing \(expected "metered"\)$/));
    expect(problems).toContainEqual(expect.stringMatching(/a\.yaml:1:1: template: required field is missing \(expected string\)$/));
    expect(problems).toContainEqual(expect.stringMatching(/a\.yaml:7:3: ttl\.max_seconds: required field is missing \(expected number\)$/));
    expect(problems).toContainEqual(expect.stringMatching(/b\.yaml: \(document\): the file is empty/));
    expect(problems).toContainEqual(expect.stringMatching(/c\.yaml:13:1: more than one YAML document/));
    expect(problems.join("\n")).not.toMatch(/received undefined|parseAllDocuments/);
  });
});
