/** Mirrors db/schema/sandboxes.ts sandboxStates without importing Drizzle into the browser. */
export const SANDBOX_STATES = [
  "requested",
  "provisioning",
  "ready",
  "destroying",
  "destroyed",
  "failed",
  "lost",
] as const;
export type SandboxStateName = (typeof SANDBOX_STATES)[number];

export const TERMINAL_STATES: readonly string[] = ["destroyed", "failed", "lost"];
export const ACTIVE_STATES = ["requested", "provisioning", "ready", "destroying"] as const;

export const isTerminal = (state: string) => TERMINAL_STATES.includes(state);

// Compile-time check that the mirror stays in step with the schema (type-only import).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _inStep: Same<SandboxStateName, import("@/db/schema").SandboxState> = true;
void _inStep;
