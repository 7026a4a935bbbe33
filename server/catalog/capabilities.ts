import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

export const capabilityLevels = ["planned", "experimental", "beta", "stable"] as const;

const capabilitySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9.-]+$/),
  name: z.string().min(1),
  level: z.enum(capabilityLevels),
  tests: z.array(z.string()),
  docs: z.array(z.string()),
});
const fileSchema = z.strictObject({ capabilities: z.array(capabilitySchema) });
export type Capability = z.infer<typeof capabilitySchema>;

export const CAPABILITIES_FILE = path.join("docs", "capabilities.yaml");

/** The capability registry (docs/capabilities.yaml): each capability, its maturity and evidence. */
export function loadCapabilities(root = process.cwd()): Capability[] {
  const file = path.join(root, CAPABILITIES_FILE);
  const parsed = fileSchema.safeParse(parse(fs.readFileSync(file, "utf8")));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${CAPABILITIES_FILE}: ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid capability registry:\n  ${problems.join("\n  ")}`);
  }
  return parsed.data.capabilities;
}
