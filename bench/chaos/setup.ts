/** Shared set-up of the chaos suite and the multi-worker test: config dir and throwaway database. */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { ROOT } from "./procs";

export const STUB_EXTENSIONS = ["ext.saas-stub", "ext.saas-stub-b"] as const;

/**
 * A config dir with two simulated providers and one profile routing over both; with `e2b`, the
 * real E2B adapter (against the local E2B fake) goes first in the route, its limits raised so
 * only the injected faults stand in its way.
 */
export function writeChaosConfig(dir: string, opts: { e2b?: boolean } = {}) {
  fs.mkdirSync(path.join(dir, "extensions"), { recursive: true });
  const base = fs.readFileSync(path.join(ROOT, "profiles/extensions/saas-stub.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "extensions", "saas-stub.yaml"), base);
  fs.writeFileSync(
    path.join(dir, "extensions", "saas-stub-b.yaml"),
    base.replace("id: ext.saas-stub", "id: ext.saas-stub-b").replace(/^name: .*$/m, "name: SaaS stub B (second simulated provider)"),
  );
  if (opts.e2b) {
    const e2b = fs
      .readFileSync(path.join(ROOT, "profiles/extensions/e2b.yaml"), "utf8")
      .replace(/max_concurrent: \d+/, "max_concurrent: 10000")
      .replace(/creates_per_second: \d+/, "creates_per_second: 1000");
    fs.writeFileSync(path.join(dir, "extensions", "e2b.yaml"), e2b);
  }
  fs.writeFileSync(
    path.join(dir, "chaos.yaml"),
    [
      "id: profile.chaos",
      "name: Chaos",
      "pricing_model: metered",
      "resources:",
      "  vcpu: 2",
      "  memory_mib: 512",
      "template: base",
      "ttl:",
      "  default_seconds: 300",
      "  max_seconds: 3600",
      "strategy: ordered",
      "route:",
      ...(opts.e2b ? ["ext.e2b"] : []).map((e) => `  - ${e}`),
      ...STUB_EXTENSIONS.map((e) => `  - ${e}`),
      "",
    ].join("\n"),
  );
}

/** A new database on `baseUrl`'s server, migrated by the caller, dropped (with force) by `drop`. */
export async function createThrowawayDatabase(baseUrl: string, namePrefix: string) {
  const name = `${namePrefix}_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
