/**
 * The fin-hub wire format (docs/runbooks/fin-hub.md). A batch body is serialized ONCE, when the
 * batch is claimed, and those bytes are stored and re-sent unchanged by every retry.
 *
 * Money is an exact decimal string of dollars (`"0.000130"`) plus the integer micro-dollars it
 * came from (`"130"`), never a JSON number. Key order is fixed, so two batches of the same rows
 * serialize identically.
 */
import { createHash } from "node:crypto";
import type { StoredResources } from "../../db/schema";
import { formatMicros } from "../money";

export const FIN_HUB_SCHEMA = "sandboxer.fin-hub.batch/v1";

export type FinHubSourceRow = {
  id: string;
  sandboxId: string;
  teamId: string;
  teamName: string;
  extensionId: string;
  profileId: string;
  providerSandboxId: string | null;
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
  resources: StoredResources;
  rateCardVersion: string;
  currency: string;
  costMicros: bigint;
  credentialSource: string;
  endReason: string;
};

/** Exact seconds from integer milliseconds: 1234 → "1.234", 5000 → "5". */
export function formatDurationSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = ms % 1000;
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
}

export function recordOf(r: FinHubSourceRow) {
  return {
    record_id: r.id,
    sandbox_id: r.sandboxId,
    extension_id: r.extensionId,
    team: { id: r.teamId, name: r.teamName },
    profile: r.profileId,
    provider_sandbox_id: r.providerSandboxId,
    started_at: r.startedAt.toISOString(),
    ended_at: r.endedAt.toISOString(),
    duration_ms: r.durationMs,
    duration_s: formatDurationSeconds(r.durationMs),
    resources: { vcpu: r.resources.vcpu, memory_mib: r.resources.memoryMiB, gpu: r.resources.gpu, gpu_type: r.resources.gpuType },
    rate_card_version: r.rateCardVersion,
    credential_source: r.credentialSource,
    currency: r.currency,
    cost: formatMicros(r.costMicros),
    cost_micros: r.costMicros.toString(),
    end_reason: r.endReason,
  };
}
export type FinHubRecord = ReturnType<typeof recordOf>;

export type FinHubBatchBody = {
  schema: typeof FIN_HUB_SCHEMA;
  batch_id: string;
  sequence: number;
  created_at: string;
  record_count: number;
  totals: { currency: string; cost: string; cost_micros: string }[];
  records: FinHubRecord[];
};

/** One record as it goes to fin-hub; stored in the outbox at settle time. */
export const recordJsonOf = (r: FinHubSourceRow) => JSON.stringify(recordOf(r));

/** A record already serialized (from the outbox) with the amounts the batch totals need. */
export type SerializedRecord = { json: string; costMicros: bigint };

const CURRENCY = /"currency":"([^"\\]*)"/;

/**
 * Serializes a batch around records already serialized: the body is exactly
 * JSON.stringify(FinHubBatchBody), built by concatenation so a batch of thousands of records
 * costs no parsing. Returns the body, its SHA-256 and the total in micro-dollars.
 */
export function serializeBatchJson(batch: { id: string; seq: number; createdAt: Date }, records: SerializedRecord[]) {
  const byCurrency = new Map<string, bigint>();
  let totalMicros = 0n;
  for (const r of records) {
    // Inside a JSON string every quote is escaped, so this unescaped pattern is the record's own key.
    const currency = CURRENCY.exec(r.json)?.[1] ?? "USD";
    byCurrency.set(currency, (byCurrency.get(currency) ?? 0n) + r.costMicros);
    totalMicros += r.costMicros;
  }
  const totals = [...byCurrency].sort(([a], [b]) => a.localeCompare(b)).map(([currency, micros]) => ({ currency, cost: formatMicros(micros), cost_micros: micros.toString() }));
  const text =
    `{"schema":${JSON.stringify(FIN_HUB_SCHEMA)},"batch_id":${JSON.stringify(batch.id)},"sequence":${batch.seq},"created_at":${JSON.stringify(batch.createdAt.toISOString())},` +
    `"record_count":${records.length},"totals":${JSON.stringify(totals)},"records":[${records.map((r) => r.json).join(",")}]}`;
  return { text, sha256: sha256Hex(text), totalMicros };
}

/** Serializes a batch from source rows (tests, the backfill path). */
export function serializeBatch(batch: { id: string; seq: number; createdAt: Date }, rows: FinHubSourceRow[]) {
  return serializeBatchJson(batch, rows.map((r) => ({ json: recordJsonOf(r), costMicros: r.costMicros })));
}

export const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
