/**
 * Finance export columns: the plain CSV and FOCUS 1.2 (docs/exports.md maps every column).
 *
 * Cells are strings. Amounts are exact decimal strings from integer micro-dollars; times are
 * ISO 8601 UTC. TEXT cells that a spreadsheet would read as a formula are neutralised with a
 * leading apostrophe (see `neutralise`); number, date and JSON cells are never touched, so a
 * reader that knows the column kinds gets every original value back (`restore`).
 */
import type { StoredResources } from "../../db/schema";
import { formatDurationSeconds } from "../fin-hub/payload";
import { formatMicros } from "../money";
import { neutralise } from "./spreadsheet";

export type ExportRow = {
  id: string;
  sandboxId: string;
  teamId: string;
  teamName: string;
  extensionId: string;
  /** The extension's display name from its manifest (the extension id if it is gone). */
  providerName: string;
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

/** text: free text, neutralised; decimal/integer: numbers as exact strings; datetime: ISO UTC; json: a JSON object. */
export type ColumnKind = "text" | "decimal" | "integer" | "datetime" | "json";
export type Column = { name: string; kind: ColumnKind; get: (r: ExportRow) => string | null };

export { neutralise, restore } from "./spreadsheet";

const iso = (d: Date) => d.toISOString();
/** FOCUS date/times are whole seconds, `YYYY-MM-DDTHH:mm:ssZ`. */
const focusTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const floorSecond = (d: Date) => focusTime(Math.floor(d.getTime() / 1000) * 1000);
const ceilSecond = (d: Date) => focusTime(Math.ceil(d.getTime() / 1000) * 1000);
const monthStart = (d: Date, add = 0) => focusTime(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1));
const cost = (r: ExportRow) => formatMicros(r.costMicros);
const seconds = (r: ExportRow) => formatDurationSeconds(r.durationMs);
const fixed = (v: string) => () => v;
const none = () => null;

/** `usage` — one row per usage record, our own names. */
export const csvColumns: Column[] = [
  { name: "record_id", kind: "text", get: (r) => r.id },
  { name: "sandbox_id", kind: "text", get: (r) => r.sandboxId },
  { name: "team_id", kind: "text", get: (r) => r.teamId },
  { name: "team_name", kind: "text", get: (r) => r.teamName },
  { name: "extension_id", kind: "text", get: (r) => r.extensionId },
  { name: "profile_id", kind: "text", get: (r) => r.profileId },
  { name: "provider_sandbox_id", kind: "text", get: (r) => r.providerSandboxId },
  { name: "started_at", kind: "datetime", get: (r) => iso(r.startedAt) },
  { name: "ended_at", kind: "datetime", get: (r) => iso(r.endedAt) },
  { name: "duration_ms", kind: "integer", get: (r) => String(r.durationMs) },
  { name: "duration_s", kind: "decimal", get: seconds },
  { name: "vcpu", kind: "decimal", get: (r) => String(r.resources.vcpu) },
  { name: "memory_mib", kind: "integer", get: (r) => String(r.resources.memoryMiB) },
  { name: "gpu", kind: "integer", get: (r) => String(r.resources.gpu) },
  { name: "gpu_type", kind: "text", get: (r) => r.resources.gpuType },
  { name: "rate_card_version", kind: "text", get: (r) => r.rateCardVersion },
  { name: "credential_source", kind: "text", get: (r) => r.credentialSource },
  { name: "currency", kind: "text", get: (r) => r.currency },
  { name: "cost", kind: "decimal", get: cost },
  { name: "cost_micros", kind: "integer", get: (r) => r.costMicros.toString() },
  { name: "end_reason", kind: "text", get: (r) => r.endReason },
];

/** FOCUS 1.2 columns (alphabetical, as the spec lists them), then ours prefixed `x_`. */
export const focusColumns: Column[] = [
  { name: "AvailabilityZone", kind: "text", get: none },
  { name: "BilledCost", kind: "decimal", get: cost },
  { name: "BillingAccountId", kind: "text", get: (r) => r.teamId },
  { name: "BillingAccountName", kind: "text", get: (r) => r.teamName },
  { name: "BillingAccountType", kind: "text", get: fixed("Team") },
  { name: "BillingCurrency", kind: "text", get: (r) => r.currency },
  { name: "BillingPeriodEnd", kind: "datetime", get: (r) => monthStart(r.endedAt, 1) },
  { name: "BillingPeriodStart", kind: "datetime", get: (r) => monthStart(r.endedAt) },
  { name: "CapacityReservationId", kind: "text", get: none },
  { name: "CapacityReservationStatus", kind: "text", get: none },
  { name: "ChargeCategory", kind: "text", get: fixed("Usage") },
  { name: "ChargeClass", kind: "text", get: none },
  { name: "ChargeDescription", kind: "text", get: (r) => `${r.profileId} sandbox on ${r.extensionId} for ${seconds(r)} s` },
  { name: "ChargeFrequency", kind: "text", get: fixed("Usage-Based") },
  { name: "ChargePeriodEnd", kind: "datetime", get: (r) => ceilSecond(r.endedAt) },
  { name: "ChargePeriodStart", kind: "datetime", get: (r) => floorSecond(r.startedAt) },
  { name: "CommitmentDiscountCategory", kind: "text", get: none },
  { name: "CommitmentDiscountId", kind: "text", get: none },
  { name: "CommitmentDiscountName", kind: "text", get: none },
  { name: "CommitmentDiscountQuantity", kind: "decimal", get: none },
  { name: "CommitmentDiscountStatus", kind: "text", get: none },
  { name: "CommitmentDiscountType", kind: "text", get: none },
  { name: "CommitmentDiscountUnit", kind: "text", get: none },
  { name: "ConsumedQuantity", kind: "decimal", get: seconds },
  { name: "ConsumedUnit", kind: "text", get: fixed("Seconds") },
  { name: "ContractedCost", kind: "decimal", get: cost },
  { name: "ContractedUnitPrice", kind: "decimal", get: none },
  { name: "EffectiveCost", kind: "decimal", get: cost },
  { name: "InvoiceId", kind: "text", get: none },
  { name: "InvoiceIssuerName", kind: "text", get: fixed("Sandboxer") },
  { name: "ListCost", kind: "decimal", get: cost },
  { name: "ListUnitPrice", kind: "decimal", get: none },
  { name: "PricingCategory", kind: "text", get: fixed("Standard") },
  { name: "PricingCurrency", kind: "text", get: (r) => r.currency },
  { name: "PricingCurrencyContractedUnitPrice", kind: "decimal", get: none },
  { name: "PricingCurrencyEffectiveCost", kind: "decimal", get: cost },
  { name: "PricingCurrencyListUnitPrice", kind: "decimal", get: none },
  { name: "PricingQuantity", kind: "decimal", get: seconds },
  { name: "PricingUnit", kind: "text", get: fixed("Seconds") },
  { name: "ProviderName", kind: "text", get: (r) => r.providerName },
  { name: "PublisherName", kind: "text", get: (r) => r.providerName },
  { name: "RegionId", kind: "text", get: none },
  { name: "RegionName", kind: "text", get: none },
  { name: "ResourceId", kind: "text", get: (r) => r.sandboxId },
  { name: "ResourceName", kind: "text", get: (r) => r.sandboxId },
  { name: "ResourceType", kind: "text", get: fixed("Sandbox") },
  { name: "ServiceCategory", kind: "text", get: fixed("Compute") },
  { name: "ServiceName", kind: "text", get: fixed("Sandboxer Sandboxes") },
  { name: "ServiceSubcategory", kind: "text", get: fixed("Other (Compute)") },
  { name: "SkuId", kind: "text", get: (r) => r.extensionId },
  { name: "SkuMeter", kind: "text", get: fixed("Sandbox runtime") },
  { name: "SkuPriceDetails", kind: "json", get: (r) => JSON.stringify({ vcpu: r.resources.vcpu, memory_mib: r.resources.memoryMiB, gpu: r.resources.gpu, gpu_type: r.resources.gpuType }) },
  { name: "SkuPriceId", kind: "text", get: (r) => `${r.extensionId}@${r.rateCardVersion}` },
  { name: "SubAccountId", kind: "text", get: (r) => r.teamId },
  { name: "SubAccountName", kind: "text", get: (r) => r.teamName },
  { name: "SubAccountType", kind: "text", get: fixed("Team") },
  { name: "Tags", kind: "json", get: (r) => JSON.stringify({ "sandboxer/profile": r.profileId, "sandboxer/credential-source": r.credentialSource }) },
  { name: "x_UsageRecordId", kind: "text", get: (r) => r.id },
  { name: "x_SandboxId", kind: "text", get: (r) => r.sandboxId },
  { name: "x_ProviderSandboxId", kind: "text", get: (r) => r.providerSandboxId },
  { name: "x_ExtensionId", kind: "text", get: (r) => r.extensionId },
  { name: "x_ProfileId", kind: "text", get: (r) => r.profileId },
  { name: "x_RateCardVersion", kind: "text", get: (r) => r.rateCardVersion },
  { name: "x_CredentialSource", kind: "text", get: (r) => r.credentialSource },
  { name: "x_StartedAt", kind: "datetime", get: (r) => iso(r.startedAt) },
  { name: "x_EndedAt", kind: "datetime", get: (r) => iso(r.endedAt) },
  { name: "x_DurationMs", kind: "integer", get: (r) => String(r.durationMs) },
  { name: "x_CostMicros", kind: "integer", get: (r) => r.costMicros.toString() },
  { name: "x_Vcpu", kind: "decimal", get: (r) => String(r.resources.vcpu) },
  { name: "x_MemoryMiB", kind: "integer", get: (r) => String(r.resources.memoryMiB) },
  { name: "x_Gpu", kind: "integer", get: (r) => String(r.resources.gpu) },
  { name: "x_GpuType", kind: "text", get: (r) => r.resources.gpuType },
  { name: "x_EndReason", kind: "text", get: (r) => r.endReason },
];

export const columnsFor = (format: "csv" | "focus") => (format === "focus" ? focusColumns : csvColumns);

/** One CSV record: neutralised text, everything else as is, null as an empty cell. */
export function cellsOf(columns: Column[], row: ExportRow): string[] {
  return columns.map((c) => {
    const v = c.get(row);
    if (v === null) return "";
    return c.kind === "text" ? neutralise(v) : v;
  });
}
