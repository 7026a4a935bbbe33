import type { Runtime } from "../runtime";
import { resolveTeamCredentials, teamBindings } from "./credentials";

/**
 * The read-only registry of profiles and extensions, as the caller's team sees it. Credentials
 * are the team's effective ones (its own bindings where it has them, the platform default
 * otherwise, as routing uses them); they are checked by resolving them and reporting only
 * whether that worked and why not; the resolved values are dropped here.
 */
export async function listRegistry(rt: Runtime, teamId: string) {
  const bindings = await teamBindings(rt, teamId);
  const extensions = await Promise.all(
    [...rt.catalog.extensions.values()].map(async (ext) => {
      const adapter = rt.adapters.get(ext.id);
      const resolved = await resolveTeamCredentials(rt, teamId, ext, bindings);
      const source = resolved.source;
      return {
        id: ext.id,
        name: ext.name,
        description: ext.description ?? null,
        adapter: ext.adapter,
        adapterAvailable: Boolean(adapter),
        pricing: {
          currency: ext.pricing.currency,
          rateCardVersion: ext.pricing.rate_card_version,
          vcpuSecond: ext.pricing.vcpu_second,
          gibSecond: ext.pricing.gib_second,
          gpuSecond: ext.pricing.gpu_second,
        },
        limits: {
          maxTtlSeconds: ext.limits.max_ttl_seconds,
          maxConcurrent: ext.limits.max_concurrent,
          createsPerSecond: ext.limits.creates_per_second,
          canExtend: ext.limits.can_extend && Boolean(adapter?.canExtend),
        },
        // Field names and where they are looked up (e.g. "env:E2B_API_KEY"), never the values:
        // `ref` is the platform default, `teamRef` the team's own binding if it has one.
        credentialRefs: Object.entries(ext.credentials).map(([field, ref]) => ({
          field,
          ref,
          teamRef: bindings.get(ext.id)?.get(field) ?? null,
        })),
        // Whether the team's effective credentials resolve now, and whose they are.
        credentials: resolved.ok
          ? { resolves: true, reason: null, source }
          : { resolves: false, reason: resolved.reason, source },
      };
    }),
  );
  const profiles = [...rt.catalog.profiles.values()].map((p) => ({
    id: p.id,
    name: p.name,
    description: p.description ?? null,
    pricingModel: p.pricing_model,
    resources: {
      vcpu: p.resources.vcpu,
      memoryMiB: p.resources.memory_mib,
      gpu: p.resources.gpu,
      gpuType: p.resources.gpu_type,
    },
    template: p.template,
    ttl: { defaultSeconds: p.ttl.default_seconds, maxSeconds: p.ttl.max_seconds },
    strategy: p.strategy,
    route: p.route,
  }));
  return { profiles, extensions };
}
