/**
 * Operator smoke test of ext.e2b against the REAL E2B API. Costs real money (a few cents at most);
 * never run in CI or by `npm test`.
 *
 *   E2B_API_KEY=e2b_… npx tsx scripts/smoke-e2b.ts [--ttl 60] [--template base] [--extend 60]
 *
 * Provisions one sandbox through the same adapter and settings the worker uses (profile
 * profile.e2b-burst, manifest profiles/extensions/e2b.yaml, SANDBOXER_E2B_API_URL if set), waits
 * until it is running, finds it by its Sandboxer tag, optionally extends it, tears it down, and
 * prints what the ledger would bill for it. Whatever fails, it tries to kill what it created.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { systemClock, type AdapterContext } from "../adapters/contract";
import { createE2bAdapter, e2bSettingsFrom } from "../adapters/e2b/e2b-adapter";
import { loadCatalog } from "../server/catalog/load";
import { createLogger } from "../server/logger";
import { formatMicros } from "../server/money";
import { createSecretResolver } from "../server/secrets";
import { specOf } from "../server/services/routing";

const { values } = parseArgs({
  options: {
    ttl: { type: "string", default: "60" },
    template: { type: "string" },
    extend: { type: "string", default: "0" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: E2B_API_KEY=e2b_… npx tsx scripts/smoke-e2b.ts [--ttl SECONDS] [--template NAME] [--extend SECONDS]");
  process.exit(0);
}
if (process.env.CI) {
  console.error("smoke-e2b: refusing to run in CI (CI is set): this talks to the real E2B API and costs money.");
  process.exit(2);
}
if (!process.env.E2B_API_KEY?.trim()) {
  console.error(
    "smoke-e2b: E2B_API_KEY is not set, so nothing was run.\n" +
      "This script creates one real sandbox on E2B (billed to that key, a few cents at most) and destroys it.\n" +
      "Run it as: E2B_API_KEY=e2b_… npx tsx scripts/smoke-e2b.ts",
  );
  process.exit(2);
}

const ttl = Number(values.ttl);
const extendBy = Number(values.extend);
if (!Number.isInteger(ttl) || ttl < 10 || ttl > 3600) throw new Error(`--ttl: whole seconds from 10 to 3600, got ${values.ttl}`);
if (!Number.isInteger(extendBy) || extendBy < 0 || extendBy > 3600) throw new Error(`--extend: whole seconds from 0 to 3600, got ${values.extend}`);

const catalog = loadCatalog(path.resolve(process.env.SANDBOXER_CONFIG_DIR ?? "profiles"));
const ext = catalog.extensions.get("ext.e2b")!;
const profile = catalog.profiles.get("profile.e2b-burst")!;
const spec = { ...specOf(profile), ...(values.template ? { template: values.template } : {}) };
const rates = ext.rates(spec.gpuType);
const settings = e2bSettingsFrom(ext.settings, process.env);
const adapter = createE2bAdapter({ extensionId: ext.id, ...settings });

const resolved = await createSecretResolver(process.env)(ext.credentials);
if (!resolved.ok) {
  console.error(`smoke-e2b: ${resolved.reason}`);
  process.exit(2);
}
const ctx: AdapterContext = { logger: createLogger({ level: "warn" }), clock: systemClock, credentials: resolved.values };
const sandboxId = `sbx_smoke${randomBytes(5).toString("hex")}`;
const step = (what: string, t0: number) => console.log(`  ${what} (${Date.now() - t0} ms)`);

console.log(`smoke-e2b: ${settings.apiUrl}, template ${spec.template}, TTL ${ttl}s, Sandboxer id ${sandboxId}`);
let providerId: string | null = null;
let startedAt: Date | null = null;
let exitCode = 0;
try {
  let t0 = Date.now();
  try {
    const created = await adapter.provision(ctx, { sandboxId, teamId: "smoke", spec, timeoutSeconds: ttl });
    providerId = created.providerSandboxId;
    startedAt = created.startedAt;
    step(`created ${providerId}`, t0);
  } catch (err) {
    // The create may have happened anyway (a lost reply): look for it by its tag.
    const found = await adapter.list(ctx, { sandboxId }).catch(() => []);
    providerId = found[0]?.providerSandboxId ?? null;
    startedAt = found[0]?.startedAt ?? null;
    throw err;
  }

  t0 = Date.now();
  await adapter.waitReady(ctx, providerId, 60_000);
  step("running", t0);

  t0 = Date.now();
  const tagged = await adapter.list(ctx, { sandboxId });
  if (tagged.map((s) => s.providerSandboxId).join() !== providerId) throw new Error(`list by tag found ${JSON.stringify(tagged)}`);
  step(`found by its tag (team ${tagged[0]!.teamId}, E2B ends it at ${tagged[0]!.endsAt?.toISOString()})`, t0);

  if (extendBy > 0) {
    t0 = Date.now();
    const res = await adapter.extend!(ctx, providerId, new Date(Date.now() + (ttl + extendBy) * 1000));
    step(`extended: E2B now ends it at ${res.endsAt.toISOString()}`, t0);
  }
} catch (err) {
  exitCode = 1;
  console.error(`smoke-e2b: FAILED: ${(err as Error).message}`);
} finally {
  if (providerId) {
    const t0 = Date.now();
    try {
      const res = await adapter.teardown(ctx, providerId);
      const endedAt = res.endedAt ?? new Date();
      step(`teardown: ${res.outcome}`, t0);
      if (startedAt) {
        const meter = adapter.meterActual({ spec, rates, startedAt, endedAt });
        console.log(
          `  metered: ${meter.durationMs} ms of ${spec.vcpuMilli / 1000} vCPU / ${spec.memoryMiB} MiB at ${ext.pricing.rate_card_version} = $${formatMicros(meter.costMicros)}`,
        );
      }
    } catch (err) {
      exitCode = 1;
      console.error(`smoke-e2b: teardown FAILED for ${providerId}: ${(err as Error).message}`);
      console.error(`  kill it by hand (docs/runbooks/e2b.md, "Orphans"); E2B ends it by itself after ${ttl}s.`);
    }
  }
}
console.log(exitCode === 0 ? "smoke-e2b: OK" : "smoke-e2b: FAILED");
process.exit(exitCode);
