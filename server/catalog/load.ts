import fs from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument, isMap, isNode, isSeq } from "yaml";
import type { z } from "zod";
import { parseRatePico, type Rates } from "../money";
import { extensionManifestSchema, profileSchema, type ExtensionManifest, type Profile } from "./schema";

export type Extension = ExtensionManifest & { file: string; rates: (gpuType: string | null) => Rates };
export type Catalog = {
  extensions: Map<string, Extension>;
  profiles: Map<string, Profile & { file: string }>;
};

/** A configuration error that names the file, the line and column, and the field path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Parsed<T> = { value: T; file: string } | { problems: string[] };

function formatPath(p: PropertyKey[]): string {
  return p
    .map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`))
    .join("");
}

type Doc = ReturnType<typeof parseDocument>;

/** Offset of the field an issue is about: an unknown key's own position, else the deepest node that exists. */
function locate(doc: Doc, issuePath: PropertyKey[], key: string | null): number | undefined {
  if (key !== null) {
    const parent = doc.getIn(issuePath as unknown[], true) ?? (issuePath.length === 0 ? doc.contents : undefined);
    const items = (parent as { items?: { key?: { value?: unknown; range?: number[] } }[] } | undefined)?.items;
    const pair = items?.find((it) => it.key?.value === key);
    if (pair?.key?.range) return pair.key.range[0];
  }
  for (let depth = issuePath.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(issuePath.slice(0, depth) as unknown[], true);
    if (isNode(node)) return node.range?.[0];
  }
  return undefined;
}

function parseYamlFile<S extends z.ZodType>(file: string, schema: S, rel: string): Parsed<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(fs.readFileSync(file, "utf8"), { lineCounter, uniqueKeys: true });
  const where = (offset: number | undefined) => {
    if (offset === undefined) return rel;
    const { line, col } = lineCounter.linePos(offset);
    return `${rel}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => `${where(e.pos[0])}: ${yamlErrorText(e)}`),
    };
  }
  const result = schema.safeParse(doc.toJS());
  if (result.success) return { value: result.data, file: rel };

  const problems = result.error.issues.flatMap((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [null];
    return keys.map((key) => {
      const fieldPath = key === null ? issue.path : [...issue.path, key];
      const offset = locate(doc, issue.path, key);
      const message = key !== null ? "unknown field" : describeIssue(issue, doc);
      return `${where(offset)}: ${formatPath(fieldPath) || "(document)"}: ${message}`;
    });
  });
  return { problems };
}

function yamlErrorText(e: { code: string; message: string }): string {
  if (e.code === "MULTIPLE_DOCS") return "more than one YAML document (---) in the file; write one manifest or profile per file";
  return e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

/** A missing field or an empty file in a config file's words; zod's message otherwise. */
function describeIssue(issue: z.core.$ZodIssue, doc: Doc): string {
  if (issue.path.length === 0) {
    return doc.contents === null ? "the file is empty (expected a mapping of fields)" : issue.message;
  }
  const parent = issue.path.length === 1 ? doc.contents : doc.getIn(issue.path.slice(0, -1) as unknown[], true);
  const last = issue.path[issue.path.length - 1];
  const present = isMap(parent) ? parent.has(last) : isSeq(parent) ? parent.has(last) : true;
  if (!present && (issue.code === "invalid_type" || issue.code === "invalid_value")) {
    const expected = issue.code === "invalid_type" ? issue.expected : issue.values.map((v) => JSON.stringify(v)).join(" or ");
    return `required field is missing (expected ${expected})`;
  }
  return issue.message;
}

function yamlFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => path.join(dir, f));
}

function ratesFor(manifest: ExtensionManifest) {
  const base = {
    vcpuSecondPico: parseRatePico(manifest.pricing.vcpu_second),
    gibSecondPico: parseRatePico(manifest.pricing.gib_second),
  };
  return (gpuType: string | null): Rates => {
    const gpuRate = gpuType ? manifest.pricing.gpu_second[gpuType] : undefined;
    return { ...base, gpuSecondPico: gpuRate ? parseRatePico(gpuRate) : 0n };
  };
}

/**
 * Loads and validates extension manifests (`<dir>/extensions/*.yaml`) and profiles
 * (`<dir>/*.yaml`). Every problem in every file is collected, then thrown as one ConfigError.
 */
export function loadCatalog(dir: string): Catalog {
  const problems: string[] = [];
  const extensions = new Map<string, Extension>();
  const profiles = new Map<string, Profile & { file: string }>();
  const rel = (f: string) => path.relative(process.cwd(), f) || f;

  for (const file of yamlFiles(path.join(dir, "extensions"))) {
    const parsed = parseYamlFile(file, extensionManifestSchema, rel(file));
    if ("problems" in parsed) {
      problems.push(...parsed.problems);
      continue;
    }
    const prior = extensions.get(parsed.value.id);
    if (prior) {
      problems.push(`${parsed.file}: id: duplicate extension id ${parsed.value.id} (also in ${prior.file})`);
      continue;
    }
    extensions.set(parsed.value.id, { ...parsed.value, file: parsed.file, rates: ratesFor(parsed.value) });
  }

  for (const file of yamlFiles(dir)) {
    const parsed = parseYamlFile(file, profileSchema, rel(file));
    if ("problems" in parsed) {
      problems.push(...parsed.problems);
      continue;
    }
    const profile = parsed.value;
    const prior = profiles.get(profile.id);
    if (prior) {
      problems.push(`${parsed.file}: id: duplicate profile id ${profile.id} (also in ${prior.file})`);
      continue;
    }
    const routeProblems = checkRoute(profile, extensions, parsed.file, file);
    problems.push(...routeProblems);
    if (routeProblems.length === 0) profiles.set(profile.id, { ...profile, file: parsed.file });
  }

  if (extensions.size === 0 && problems.length === 0) {
    problems.push(`${rel(path.join(dir, "extensions"))}: no extension manifests found`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { extensions, profiles };
}

function checkRoute(profile: Profile, extensions: Map<string, Extension>, relFile: string, file: string) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(fs.readFileSync(file, "utf8"), { lineCounter });
  const at = (i: number) => {
    const node = doc.getIn(["route", i], true) as { range?: number[] } | undefined;
    const offset = node?.range?.[0];
    if (offset === undefined) return relFile;
    const { line, col } = lineCounter.linePos(offset);
    return `${relFile}:${line}:${col}`;
  };
  const problems: string[] = [];
  profile.route.forEach((extId, i) => {
    const ext = extensions.get(extId);
    if (!ext) {
      problems.push(`${at(i)}: route[${i}]: unknown extension "${extId}"`);
      return;
    }
    if (profile.resources.gpu > 0 && profile.resources.gpu_type && !ext.pricing.gpu_second[profile.resources.gpu_type]) {
      problems.push(`${at(i)}: route[${i}]: ${extId} has no price for GPU type ${profile.resources.gpu_type}`);
    }
  });
  return problems;
}
