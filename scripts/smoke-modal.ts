/**
 * Operator smoke test of ext.modal against the REAL Modal API. Costs real money (a CPU sandbox for
 * a minute is a fraction of a cent; `--profile modal-gpu` holds an A100-80GB, about $0.05 a
 * minute); never run in CI or by `npm test`.
 *
 *   MODAL_TOKEN_ID=ak-… MODAL_TOKEN_SECRET=as-… npx tsx scripts/smoke-modal.ts [--profile burst-sandbox] [--ttl 60]
 *
 * Provisions one sandbox through the same adapter and settings the worker uses (manifest
 * profiles/extensions/modal.yaml, SANDBOXER_MODAL_SERVER_URL if set; the profile's resources and
 * template), waits until Modal has scheduled it, finds it by its Sandboxer tag, checks that the
 * adapter refuses to extend, terminates it, checks a second teardown says it is gone, and prints
 * what the ledger would bill. Whatever fails, it tries to terminate what it created.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { systemClock, type AdapterContext } from "../adapters/contract";
import { createModalAdapter, imageFor, modalSettingsFrom } from "../adapters/modal/modal-adapter";
import { loadCatalog } from "../server/catalog/load";
import { createLogger } from "../server/logger";
import { formatMicros } from "../server/money";
import { createSecretResolver } from "../server/secrets";
import { specOf } from "../server/services/routing";

const USAGE = "usage: MODAL_TOKEN_ID=ak-… MODAL_TOKEN_SECRET=as-… npx tsx scripts/smoke-modal.ts [--profile NAME] [--ttl SECONDS] [--ready-timeout SECONDS]";
const { values } = parseArgs({
  options: {
    profile: { type: "string", default: "burst-sandbox" },
    ttl: { type: "string", default: "60" },
    "ready-timeout": { type: "string", default: "300" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (process.env.CI) {
  console.error("smoke-modal: refusing to run in CI (CI is set): this talks to the real Modal API and costs money.");
  process.exit(2);
}
if (!process.env.MODAL_TOKEN_ID?.trim() || !process.env.MODAL_TOKEN_SECRET?.trim()) {
  console.error(
    "smoke-modal: MODAL_TOKEN_ID and MODAL_TOKEN_SECRET are not both set, so nothing was run.\n" +
      "This script creates one real sandbox on Modal (billed to that token's workspace) and terminates it.\n" +
      USAGE,
  );
  process.exit(2);
}

const ttl = Number(values.ttl);
const readyTimeoutS = Number(values["ready-timeout"]);
if (!Number.isInteger(ttl) || ttl < 10 || ttl > 3600) throw new Error(`--ttl: whole seconds from 10 to 3600, got ${values.ttl}`);
if (!Number.isInteger(readyTimeoutS) || readyTimeoutS < 1) throw new Error(`--ready-timeout: whole seconds ≥ 1, got ${values["ready-timeout"]}`);

const catalog = loadCatalog(path.resolve(process.env.SANDBOXER_CONFIG_DIR ?? "profiles"));
const ext = catalog.extensions.get("ext.modal")!;
const profileId = values.profile!.startsWith("profile.") ? values.profile! : `profile.${values.profile}`;
const profile = catalog.profiles.get(profileId);
if (!profile) throw new Error(`--profile: unknown profile ${profileId}`);
const spec = specOf(profile);
const rates = ext.rates(spec.gpuType);
const settings = modalSettingsFrom(ext.settings, process.env);
const logger = createLogger({ level: "warn" });
const adapter = createModalAdapter({ extensionId: ext.id, settings, logger });

const resolved = await createSecretResolver(process.env)(ext.credentials);
if (!resolved.ok) {
  console.error(`smoke-modal: ${resolved.reason}`);
  process.exit(2);
}
const ctx: AdapterContext = { logger, clock: systemClock, credentials: resolved.values };
const sandboxId = `sbx_smoke${randomBytes(5).toString("hex")}`;
const step = (what: string, t0: number) => console.log(`  ${what} (${Date.now() - t0} ms)`);
const gpu = spec.gpuCount > 0 ? `, ${spec.gpuCount} × ${spec.gpuType}` : "";

console.log(
  `smoke-modal: ${settings.serverUrl}, app ${settings.appName}, ${profile.id} (${spec.vcpuMilli / 1000} vCPU, ${spec.memoryMiB} MiB${gpu}, image ${imageFor(settings, spec.template)}), TTL ${ttl}s, Sandboxer id ${sandboxId}`,
);
let providerId: string | null = null;
let startedAt: Date | null = null;
let exitCode = 0;
try {
  let t0 = Date.now();
  try {
    const created = await adapter.provision(ctx, { sandboxId, teamId: "smoke", spec, timeoutSeconds: ttl + 60 });
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
  await adapter.waitReady(ctx, providerId, readyTimeoutS * 1000);
  step("scheduled and running", t0);

  t0 = Date.now();
  const tagged = await adapter.list(ctx, { sandboxId });
  if (tagged.map((s) => s.providerSandboxId).join() !== providerId) throw new Error(`list by tag found ${JSON.stringify(tagged)}`);
  step(`found by its tag (team ${tagged[0]!.teamId}, Modal ends it by ${tagged[0]!.endsAt?.toISOString()})`, t0);

  if (adapter.canExtend || adapter.extend) throw new Error("the adapter claims it can extend; Modal cannot");
  console.log("  extend: refused as expected (Modal cannot extend a running sandbox)");
} catch (err) {
  exitCode = 1;
  console.error(`smoke-modal: FAILED: ${(err as Error).message}`);
} finally {
  if (providerId) {
    const t0 = Date.now();
    try {
      const res = await adapter.teardown(ctx, providerId);
      const endedAt = res.endedAt ?? new Date();
      step(`teardown: ${res.outcome}`, t0);
      const again = await adapter.teardown(ctx, providerId);
      // Caught by this block's own catch below, not thrown out of the finally.
      // eslint-disable-next-line no-unsafe-finally
      if (again.outcome !== "already_gone") throw new Error(`second teardown said ${again.outcome}`);
      console.log("  second teardown: already_gone");
      if (startedAt) {
        const meter = adapter.meterActual({ spec, rates, startedAt, endedAt });
        console.log(`  metered: ${meter.durationMs} ms at ${ext.pricing.rate_card_version} = $${formatMicros(meter.costMicros)}`);
      }
    } catch (err) {
      exitCode = 1;
      console.error(`smoke-modal: teardown FAILED for ${providerId}: ${(err as Error).message}`);
      console.error(`  terminate it by hand (docs/runbooks/modal.md, "Orphans"); Modal ends it by itself after ${ttl + 60}s.`);
    }
  }
}
console.log(exitCode === 0 ? "smoke-modal: OK" : "smoke-modal: FAILED");
process.exit(exitCode);
