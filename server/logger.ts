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

export function createLogger(opts: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.SANDBOXER_LOG_LEVEL ?? "info",
      base: { service: "sandboxer" },
      redact: { paths: redactPaths, censor: "[redacted]" },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}

export type { Logger };
