import pino, { type Logger } from "pino";

/**
 * Paths pino blanks out wherever they appear. Credentials should never reach a log call in
 * the first place (invariant 8); this list is the second line of defence.
 */
export const redactPaths = [
  "credentials",
  "*.credentials",
  "apiKey",
  "*.apiKey",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  'headers["x-api-key"]',
  "*.headers.cookie",
];

/**
 * Errors as pino serializes them, without the bound parameters of a failed query: Drizzle puts
 * them on the error (`params`) and in its message and stack ("params: …"), and they can hold
 * whatever the statement wrote (a key's hash, a person's note). The statement text stays.
 */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error);
  scrubQueryParams(out, 0);
  return out;
}

function scrubQueryParams(value: unknown, depth: number) {
  if (depth > 5 || value === null || typeof value !== "object") return;
  const o = value as Record<string, unknown>;
  if (Array.isArray(o.params)) o.params = `[${o.params.length} parameter(s) withheld]`;
  for (const key of ["message", "stack"]) {
    if (typeof o[key] === "string")
      o[key] = (o[key] as string).replace(
        /\nparams: [\s\S]*?(?=\n {4}at |$)/g,
        "\nparams: [withheld]",
      );
  }
  for (const item of Object.values(o)) scrubQueryParams(item, depth + 1);
}

export function createLogger(
  opts: { level?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? process.env.SANDBOXER_LOG_LEVEL ?? "info",
      base: { service: "sandboxer" },
      redact: { paths: redactPaths, censor: "[redacted]" },
      serializers: { err: serializeError },
    },
    opts.destination,
  );
}

export type { Logger };
