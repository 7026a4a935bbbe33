import { z } from "zod";

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === "" ? undefined : v))
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(p)), {
      message: `must start with ${protocols.join(" or ")}`,
    });

/** An optional http(s) URL; "" counts as unset. */
const optionalHttpUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === "" ? undefined : v))
  .refine(
    (v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
      } catch {
        return false;
      }
    },
    { message: "must be an http:// or https:// URL, e.g. https://fin-hub.example.com/v1/batches" },
  );
const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === "" ? undefined : v))
  .refine((v) => v === undefined || v.length >= 32, { message: "must be at least 32 characters" })
  // A secret read from a file often keeps its line break; signing with it while the other side
  // trims (or the reverse) fails every request with a signature mismatch.
  .refine((v) => v === undefined || v.trim() === v, {
    message: "must not start or end with a space or line break (a secret copied from a file keeps its newline)",
  });

/**
 * A whole number setting: decimal digits only, within [min, max]; unset or "" is the default.
 * (z.coerce.number took "0x10000", "1e12" and " " — a typo became a value nobody meant.)
 */
const intSetting = (min: number, max: number, fallback: number, unit = "") =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = v?.trim() ?? "";
      if (t === "") return fallback;
      const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
      if (!(n >= min && n <= max)) {
        ctx.addIssue({
          code: "custom",
          message: `must be a whole number${unit} from ${min} to ${max}, e.g. ${fallback} (got "${t.slice(0, 40)}")`,
        });
        return z.NEVER;
      }
      return n;
    });
const msSetting = (min: number, max: number, fallback: number) => intSetting(min, max, fallback, " of milliseconds");
const DAY_MS = 86_400_000;

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  DATABASE_URL: optionalUrl(["postgres://", "postgresql://"]),
  SANDBOXER_DATA_DIR: z.string().default(".data"),
  SANDBOXER_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default("sandboxer"),
  SANDBOXER_CONFIG_DIR: z.string().default("profiles"),
  SANDBOXER_URL: z.string().url().default("http://127.0.0.1:3000"),
  SANDBOXER_EMBEDDED_WORKER: z.enum(["0", "1"]).default("0"),
  /**
   * Reverse proxies in front of the web server (addresses or CIDR ranges, comma-separated), whose
   * X-Forwarded-For is believed; the web server (server/http/web.mjs) checks the entries.
   */
  SANDBOXER_TRUSTED_PROXIES: z.string().default(""),
  SANDBOXER_SWEEP_INTERVAL_MS: msSetting(250, DAY_MS, 5_000),
  SANDBOXER_RECONCILE_INTERVAL_MS: msSetting(1_000, DAY_MS, 60_000),
  SANDBOXER_WORKER_CONCURRENCY: intSetting(1, 1000, 50),
  /** A job whose worker stops renewing its lock (crash, SIGKILL) goes back to the queue this long after. */
  SANDBOXER_WORKER_LOCK_MS: msSetting(1_000, DAY_MS, 30_000),
  /** Shown as `processedBy` on the jobs this worker takes (default host:pid). */
  SANDBOXER_WORKER_NAME: z.string().min(1).max(100).optional(),
  /** A request (requested/provisioning) idle this long is enqueued again by the sweep; job ids dedupe. */
  SANDBOXER_REQUEST_STALE_MS: msSetting(1_000, DAY_MS, 30_000),
  /** A standalone worker's health and metrics server (jobs/worker-main.ts); off when unset. */
  SANDBOXER_WORKER_HEALTH_PORT: intSetting(0, 65_535, 0),
  SANDBOXER_WORKER_HEALTH_HOST: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || "127.0.0.1"),
  /** How long a stopping worker lets jobs in flight finish before handing them back. */
  SANDBOXER_SHUTDOWN_GRACE_MS: msSetting(0, 600_000, 25_000),
  SANDBOXER_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** Secret-reference schemes teams may use for their own keys (env/file point at our machines). */
  SANDBOXER_BYOK_SCHEMES: z.string().default("openbao"),
  /**
   * Where in OpenBao a team's own keys must live, after the mount: `{team}` is the team id. The
   * platform's OpenBao token can read every path, so without this one team could name another
   * team's secret. `*` turns the check off (single-team installs only).
   */
  SANDBOXER_BYOK_OPENBAO_PATH: z
    .string()
    .default("teams/{team}/")
    .refine((v) => v === "*" || (v.includes("{team}") && v.endsWith("/")), {
      message: 'must be "*" or a path holding {team} and ending in "/" (e.g. teams/{team}/); without the "/", team t1 could read teams/t12/…',
    }),
  /** Consecutive pre-create failures after which an extension cools down, and for how long. */
  SANDBOXER_COOLDOWN_FAILURES: intSetting(1, 1_000_000, 5),
  SANDBOXER_COOLDOWN_MS: msSetting(0, DAY_MS, 30_000),
  BETTER_AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /** When set, /api/metrics and the worker's /metrics answer only `Authorization: Bearer <it>`. */
  SANDBOXER_METRICS_TOKEN: optionalSecret,
  /** fin-hub billing export (docs/runbooks/fin-hub.md): off unless the URL is set. */
  SANDBOXER_FIN_HUB_URL: optionalHttpUrl,
  SANDBOXER_FIN_HUB_SECRET: optionalSecret,
  /** During a rotation: batches are signed with this secret too, so fin-hub may still check either. */
  SANDBOXER_FIN_HUB_SECRET_PREVIOUS: optionalSecret,
  SANDBOXER_FIN_HUB_INTERVAL_MS: msSetting(1_000, DAY_MS, 10_000),
  SANDBOXER_FIN_HUB_BATCH_SIZE: intSetting(1, 10_000, 1_000),
  SANDBOXER_FIN_HUB_ATTEMPTS: intSetting(1, 100, 8),
  SANDBOXER_FIN_HUB_TIMEOUT_MS: msSetting(100, 300_000, 10_000),
  SANDBOXER_FIN_HUB_CONCURRENCY: intSetting(1, 32, 4),
}).superRefine((env, ctx) => {
  if (env.SANDBOXER_FIN_HUB_URL && !env.SANDBOXER_FIN_HUB_SECRET) {
    ctx.addIssue({
      code: "custom",
      path: ["SANDBOXER_FIN_HUB_SECRET"],
      message: "is required when SANDBOXER_FIN_HUB_URL is set (at least 32 characters; batches are signed with it)",
    });
  }
});

export type Env = z.infer<typeof envSchema>;

/** Parses process.env once; a bad value stops start-up with the variable's name and problem. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
