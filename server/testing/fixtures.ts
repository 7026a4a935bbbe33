import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { usageRecords } from "../../db/schema";

/**
 * A config dir holding the shipped profiles and manifests plus extra YAML files, for tests that
 * need an extension or profile the product does not ship. Returns the directory.
 */
export function configDirWith(extra: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-config-"));
  fs.cpSync("profiles", dir, { recursive: true });
  for (const [name, body] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}

/**
 * A usage record row to insert directly (tests of reads over usage: summaries, totals, rollups).
 * `key` makes the ids and idempotency key unique within the team.
 */
export function usageRecordRow(r: {
  teamId: string;
  key: string | number;
  endedAt: string | Date;
  extensionId: string;
  profileId: string;
  costMicros: bigint;
  durationMs: number;
}): typeof usageRecords.$inferInsert {
  const endedAt = new Date(r.endedAt);
  return {
    id: `use_${r.teamId}_${r.key}`,
    sandboxId: `sbx_${r.teamId}_${r.key}`,
    teamId: r.teamId,
    extensionId: r.extensionId,
    profileId: r.profileId,
    startedAt: new Date(endedAt.getTime() - r.durationMs),
    endedAt,
    durationMs: r.durationMs,
    resources: { vcpu: 2, memoryMiB: 512, gpu: 0, gpuType: null },
    rateCardVersion: "v1",
    currency: "USD",
    costMicros: r.costMicros,
    credentialSource: "none",
    endReason: "ttl",
    idempotencyKey: `usage:${r.teamId}:${r.key}`,
  };
}
