import type { sandboxEvents, sandboxes } from "../../db/schema";
import type { Runtime } from "../runtime";
import { specOf } from "./routing";

type SandboxRow = typeof sandboxes.$inferSelect;
type EventRow = typeof sandboxEvents.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** What running so far has cost, metered the same way the final debit will be. */
export function costSoFarMicros(rt: Pick<Runtime, "catalog" | "adapters" | "clock">, row: SandboxRow): bigint | null {
  if (row.costMicros !== null) return row.costMicros;
  if (!row.startedAt || !row.extensionId) return null;
  const ext = rt.catalog.extensions.get(row.extensionId);
  const adapter = rt.adapters.get(row.extensionId);
  const profile = rt.catalog.profiles.get(row.profileId);
  if (!ext || !adapter || !profile) return null;
  const now = rt.clock.now();
  const end = row.expiresAt && row.expiresAt < now ? row.expiresAt : now;
  const spec = specOf(profile);
  return adapter.meterActual({ spec, rates: ext.rates(spec.gpuType), startedAt: row.startedAt, endedAt: end }).costMicros;
}

/**
 * The estimate for the provider that took the sandbox, at its current TTL. Before routing has
 * chosen one it is the estimate the hold was sized for (the dearest eligible entry).
 */
export function chosenEstimateMicros(rt: Pick<Runtime, "catalog" | "adapters">, row: SandboxRow): bigint {
  if (!row.extensionId) return row.estimateMicros;
  const ext = rt.catalog.extensions.get(row.extensionId);
  const adapter = rt.adapters.get(row.extensionId);
  const profile = rt.catalog.profiles.get(row.profileId);
  if (!ext || !adapter || !profile) return row.estimateMicros;
  const spec = specOf(profile);
  return adapter.estimateCost(spec, ext.rates(spec.gpuType), row.ttlSeconds);
}

/** The API's view of a sandbox: JSON-safe (money as integer micro-dollar strings, ISO times). */
export function toSandboxView(rt: Pick<Runtime, "catalog" | "adapters" | "clock">, row: SandboxRow) {
  return {
    id: row.id,
    profileId: row.profileId,
    state: row.state,
    extensionId: row.extensionId,
    providerSandboxId: row.providerSandboxId,
    template: row.template,
    resources: row.resources,
    ttlSeconds: row.ttlSeconds,
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    readyAt: iso(row.readyAt),
    expiresAt: iso(row.expiresAt),
    endedAt: iso(row.endedAt),
    destroyRequestedAt: iso(row.destroyRequestedAt),
    holdMicros: row.holdMicros.toString(),
    estimateMicros: chosenEstimateMicros(rt, row).toString(),
    costMicros: row.costMicros?.toString() ?? null,
    costSoFarMicros: costSoFarMicros(rt, row)?.toString() ?? null,
    rateCardVersion: row.rateCardVersion,
    credentialSource: row.credentialSource,
    routing: row.routing,
    failureReason: row.failureReason,
    attentionReason: row.attentionReason,
  };
}
export type SandboxView = ReturnType<typeof toSandboxView>;

export function toEventView(e: EventRow) {
  return {
    id: e.id,
    kind: e.kind,
    fromState: e.fromState,
    toState: e.toState,
    extensionId: e.extensionId,
    reason: e.reason,
    data: e.data,
    at: e.at.toISOString(),
  };
}
