/** Shared set-up of the chaos suite and the multi-worker test: config dir and throwaway database. */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { ROOT } from "./procs";

export const STUB_EXTENSIONS = ["ext.saas-stub", "ext.saas-stub-b"] as const;

/** A config dir with two simulated providers and one profile routing over both. */
export function writeChaosConfig(dir: string) {
  fs.mkdirSync(path.join(dir, "extensions"), { recursive: true });
  const base = fs.readFileSync(path.join(ROOT, "profiles/extensions/saas-stub.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "extensions", "saas-stub.yaml"), base);
  fs.writeFileSync(
    path.join(dir, "extensions", "saas-stub-b.yaml"),
    base.replace("id: ext.saas-stub", "id: ext.saas-stub-b").replace(/^name: .*$/m, "name: SaaS stub B (second simulated provider)"),
  );
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
