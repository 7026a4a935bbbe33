import type { Credentials, SandboxAdapter, SandboxSpec } from "../../adapters/contract";
import type { RoutingDecision, StoredResources } from "../../db/schema";
import type { Extension } from "../catalog/load";
import type { Profile } from "../catalog/schema";
import type { Runtime } from "../runtime";
import { getCooldown, type Cooldown } from "./cooldown";
import { resolveTeamCredentials, teamBindings, type Bindings, type CredentialSource } from "./credentials";
import { formatTime } from "../../lib/format";

export type RouteCandidate = {
  extension: Extension;
  adapter: SandboxAdapter | null;
  eligible: boolean;
  reason: string;
  estimateMicros: bigint | null;
  /** Only present when planning with `resolve: true` inside a job; never stored or returned. */
  credentials?: Credentials;
  credentialSource: CredentialSource;
  /** Eligible, but failing lately: passed over while another entry can serve, waited for otherwise. */
  coolingDown: Cooldown | null;
};

export type RoutePlan = { strategy: Profile["strategy"]; candidates: RouteCandidate[] };

export function specOf(profile: Profile): SandboxSpec {
  return {
    template: profile.template,
    vcpuMilli: Math.round(profile.resources.vcpu * 1000),
    memoryMiB: profile.resources.memory_mib,
    gpuCount: profile.resources.gpu,
    gpuType: profile.resources.gpu_type,
  };
}

export function storedResourcesOf(profile: Profile): StoredResources {
  return {
    vcpu: profile.resources.vcpu,
    memoryMiB: profile.resources.memory_mib,
    gpu: profile.resources.gpu,
    gpuType: profile.resources.gpu_type,
  };
}

/**
 * Walks the profile's route and says, for each extension, whether it can take this request and
 * why not. Credentials are resolved to check they exist; their values are kept only when
 * `keepCredentials` is set (the provision job, which passes them to one adapter call).
 *
 * Cool-downs are read last, in the order routing will try the entries. The provision job's plan
 * (`keepCredentials`) takes the probe of an entry whose cool-down has ended when that entry is the
 * first it would try; see cooldown.ts.
 */
export async function planRoute(
  rt: Pick<Runtime, "catalog" | "adapters" | "resolveSecrets" | "db" | "redis" | "keyPrefix" | "clock" | "env" | "logger">,
  profile: Profile,
  ttlSeconds: number,
  opts: {
    teamId: string;
    keepCredentials?: boolean;
    /** Bindings the caller already read (a job reads them with its row). */
    bindings?: Bindings;
    /** False when the caller needs only eligibility and estimates (admission): no cool-down reads. */
    cooldowns?: boolean;
  },
): Promise<RoutePlan> {
  const spec = specOf(profile);
  const bindings = opts.bindings ?? (await teamBindings(rt, opts.teamId));
  const candidates: RouteCandidate[] = [];
  for (const extId of profile.route) {
    const extension = rt.catalog.extensions.get(extId);
    if (!extension) continue; // the catalog loader rejects unknown ids; kept for type narrowing
    const adapter = rt.adapters.get(extId) ?? null;
    const base = { extension, adapter, estimateMicros: null, credentialSource: "none" as const, coolingDown: null };
    if (!adapter) {
      candidates.push({ ...base, eligible: false, reason: "adapter not available" });
      continue;
    }
    if (ttlSeconds > extension.limits.max_ttl_seconds) {
      candidates.push({ ...base, eligible: false, reason: `TTL ${ttlSeconds}s is above this provider's maximum of ${extension.limits.max_ttl_seconds}s` });
      continue;
    }
    if (spec.gpuCount > 0 && !(spec.gpuType && extension.pricing.gpu_second[spec.gpuType])) {
      candidates.push({ ...base, eligible: false, reason: `does not offer GPU type ${spec.gpuType}` });
      continue;
    }
    // Through resolveTeamCredentials, so a team binding is checked against the scheme allow-list
    // and the team's own OpenBao path here too (a binding made before the rule, or under a looser
    // setting, must not provision on another team's key).
    const resolved = await resolveTeamCredentials(rt, opts.teamId, extension, bindings);
    const source = resolved.source;
    if (!resolved.ok) {
      const whose = source === "team" ? "team credentials" : "credentials";
      candidates.push({ ...base, eligible: false, reason: `${whose} not available: ${resolved.reason}` });
      continue;
    }
    const estimateMicros = adapter.estimateCost(spec, extension.rates(spec.gpuType), ttlSeconds);
    candidates.push({
      extension,
      adapter,
      eligible: true,
      coolingDown: null,
      reason: "eligible",
      estimateMicros,
      credentials: opts.keepCredentials ? resolved.values : undefined,
      credentialSource: source,
    });
  }
  if (profile.strategy === "cheapest") {
    candidates.sort((a, b) => {
      if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
      if (a.estimateMicros === null || b.estimateMicros === null) return 0;
      return a.estimateMicros < b.estimateMicros ? -1 : a.estimateMicros > b.estimateMicros ? 1 : 0;
    });
  }
  if (opts.cooldowns !== false) {
    let readyBefore = false;
    for (const c of candidates) {
      if (!c.eligible) continue;
      const claimProbe = opts.keepCredentials === true && !readyBefore;
      c.coolingDown = await getCooldown(rt, c.extension.id, { claimProbe });
      if (c.coolingDown) c.reason = coolingReason(c.coolingDown);
      else readyBefore = true;
    }
  }
  return { strategy: profile.strategy, candidates };
}

export const coolingReason = (c: Cooldown) =>
  c.probing
    ? `cool-down ended; one create is testing it and the others wait for it to succeed (next check ${formatTime(c.until)}; cooled down after ${c.reason})`
    : `cooling down until ${formatTime(c.until)} (${c.reason})`;

/**
 * Why the plan shows an entry as it does, before the worker acts (sandboxes.preview and the
 * profiles list). The entry it would choose says so, and whether requests are waiting for its
 * cool-down (only when every eligible entry is cooling down; otherwise another one is chosen).
 */
export function planReason(plan: RoutePlan, c: RouteCandidate): string {
  if (c !== firstChoice(plan)) return c.reason;
  const how = plan.strategy === "cheapest" ? "cheapest eligible entry" : "first eligible entry of the route";
  const cd = c.coolingDown;
  if (!cd) {
    const passedOver = plan.candidates.slice(0, plan.candidates.indexOf(c)).some((o) => o.eligible && o.coolingDown);
    return `chosen: ${how}${passedOver ? " not cooling down" : ""}`;
  }
  return cd.probing
    ? `chosen: ${how}, but ${coolingReason(cd)}; requests wait in the queue meanwhile`
    : `chosen: ${how}, but ${coolingReason(cd)}; requests wait in the queue and are tried from ${formatTime(cd.until)}`;
}

/** The entry routing would take now: the first eligible one not cooling down, else the first eligible. */
export function firstChoice(plan: RoutePlan): RouteCandidate | null {
  return plan.candidates.find((c) => c.eligible && !c.coolingDown) ?? plan.candidates.find((c) => c.eligible) ?? null;
}

/** The hold covers the dearest provider routing might fall back to, so a debit never exceeds it. */
export function holdFor(plan: RoutePlan): bigint {
  return plan.candidates.reduce((max, c) => (c.eligible && c.estimateMicros !== null && c.estimateMicros > max ? c.estimateMicros : max), 0n);
}

/** The stored, secret-free form of a routing decision. */
export function decisionOf(
  plan: RoutePlan,
  outcomes: Map<string, { outcome: "chosen" | "failed"; reason: string }>,
  now: Date,
): RoutingDecision {
  return {
    strategy: plan.strategy,
    decidedAt: now.toISOString(),
    candidates: plan.candidates.map((c) => {
      const o = outcomes.get(c.extension.id);
      return {
        extensionId: c.extension.id,
        outcome: o?.outcome ?? "skipped",
        reason: o?.reason ?? (c.eligible && !c.coolingDown ? "not needed: an earlier route entry was chosen" : c.reason),
        estimateMicros: c.estimateMicros?.toString() ?? null,
      };
    }),
  };
}
