import { z } from "zod";
import { parseRatePico } from "../money";
import { parseSecretRef, SECRET_REF_HELP } from "../secrets";

const rate = z
  .string({ error: 'must be a quoted decimal string such as "0.000014" (a bare number is read as a float)' })
  .refine(
    (v) => {
      try {
        parseRatePico(v);
        return true;
      } catch {
        return false;
      }
    },
    { message: "must be a decimal dollar amount with at most 12 decimal places" },
  );

const secretRef = z.string().refine((v) => parseSecretRef(v) !== null, { message: `must be ${SECRET_REF_HELP}` });

const extensionId = z.string().regex(/^ext\.[a-z0-9][a-z0-9-]*$/, 'must look like "ext.name"');
const profileId = z.string().regex(/^profile\.[a-z0-9][a-z0-9-]*$/, 'must look like "profile.name"');
const positiveSeconds = z.number().int("must be a whole number of seconds").positive("must be positive");

export const extensionManifestSchema = z.strictObject({
  id: extensionId,
  name: z.string().min(1),
  adapter: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string().optional(),
  pricing: z.strictObject({
    currency: z.literal("USD"),
    rate_card_version: z.string().min(1),
    vcpu_second: rate,
    gib_second: rate,
    gpu_second: z.record(z.string().min(1), rate).default({}),
  }),
  limits: z.strictObject({
    max_ttl_seconds: positiveSeconds,
    max_concurrent: z.number().int().positive(),
    creates_per_second: z.number().positive(),
    can_extend: z.boolean().default(true),
  }),
  credentials: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), secretRef).default({}),
  settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});
export type ExtensionManifest = z.infer<typeof extensionManifestSchema>;

export const profileSchema = z
  .strictObject({
    id: profileId,
    name: z.string().min(1),
    description: z.string().optional(),
    pricing_model: z.literal("metered"),
    resources: z.strictObject({
      vcpu: z
        .number()
        .positive("must be positive")
        .refine((v) => Number.isInteger(v * 1000), "must have at most 3 decimal places"),
      memory_mib: z.number().int().positive(),
      gpu: z.number().int().min(0).default(0),
      gpu_type: z.string().min(1).nullable().default(null),
    }),
    template: z.string().min(1),
    ttl: z.strictObject({ default_seconds: positiveSeconds, max_seconds: positiveSeconds }),
    strategy: z.enum(["ordered", "cheapest"]).default("ordered"),
    route: z.array(extensionId).min(1, "must name at least one extension"),
  })
  .superRefine((p, ctx) => {
    if (p.ttl.default_seconds > p.ttl.max_seconds) {
      ctx.addIssue({ code: "custom", path: ["ttl", "default_seconds"], message: "must not exceed ttl.max_seconds" });
    }
    if (p.resources.gpu > 0 && !p.resources.gpu_type) {
      ctx.addIssue({ code: "custom", path: ["resources", "gpu_type"], message: "is required when gpu > 0" });
    }
    const seen = new Set<string>();
    p.route.forEach((ext, i) => {
      if (seen.has(ext)) ctx.addIssue({ code: "custom", path: ["route", i], message: `lists ${ext} twice` });
      seen.add(ext);
    });
  });
export type Profile = z.infer<typeof profileSchema>;
