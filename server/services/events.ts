import type { DbOrTx } from "../../db/client";
import { sandboxEvents, type SandboxState } from "../../db/schema";
import { newId } from "../ids";

/** Appends one row to a sandbox's timeline. Every state change goes through here. */
export async function recordEvent(
  tx: DbOrTx,
  e: {
    sandboxId: string;
    teamId: string;
    kind: string;
    reason: string;
    fromState?: SandboxState | null;
    toState?: SandboxState | null;
    extensionId?: string | null;
    data?: Record<string, unknown>;
    at: Date;
  },
): Promise<void> {
  await tx.insert(sandboxEvents).values({
    id: newId("evt", e.at),
    sandboxId: e.sandboxId,
    teamId: e.teamId,
    kind: e.kind,
    fromState: e.fromState ?? null,
    toState: e.toState ?? null,
    extensionId: e.extensionId ?? null,
    reason: e.reason,
    data: e.data ?? null,
    at: e.at,
  });
}
