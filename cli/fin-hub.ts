/**
 * `sandboxer fin-hub verify|sign`: the reference check of fin-hub request signatures for
 * fin-hub's owners (server/fin-hub/verify.ts; format in docs/runbooks/fin-hub.md). Offline: no
 * server, no API key. The secret is read from an environment variable, never from a flag, so
 * it stays out of shell history and `ps`.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { DEFAULT_TOLERANCE_SECONDS, FIN_HUB_HEADERS, signatureHeaders, verify } from "../server/fin-hub/verify";
import { CliError, ExitCode, UsageError } from "./errors";
import { parsePositiveInt, timeWithRelative } from "./format";

type Io = { stdout: (text: string) => void; stderr: (text: string) => void; env: NodeJS.ProcessEnv };

/** A file named by `flag` ("-" is stdin); one that cannot be read is a usage error naming the flag (exit 2). */
function readFileFlag(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file === "-" ? 0 : file);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const readBody = (file: string) => readFileFlag(file, "--body-file");

function secretFrom(io: Io, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--secret-env: "${name}" is not an environment variable name`);
  const value = io.env[name];
  if (!value) throw new UsageError(`--secret-env: ${name} is not set (export the fin-hub signing secret in it)`);
  return value;
}

/** `Name: value` lines (curl -D, a proxy log, an HTTP request dump); the request line is skipped. */
export function parseHeaderLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i <= 0 || /^(GET|POST|PUT|HTTP)\b/.test(line)) continue;
    out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export function registerFinHubCommands(program: Command, io: Io) {
  const finHub = program.command("fin-hub").description("fin-hub billing export: check or make request signatures (offline)");
  const emit = (cmd: Command, value: unknown, text: string) => {
    if (cmd.optsWithGlobals<{ json?: boolean }>().json) io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    else io.stdout(`${text}\n`);
  };

  finHub
    .command("verify")
    .description("check that a received body was signed with the secret, within the time tolerance; exit 9 if not")
    .requiredOption("--secret-env <VAR>", "environment variable holding the signing secret")
    .requiredOption("--body-file <file>", "the raw request body exactly as received (- for stdin)")
    .option("--signature <sig>", `the ${FIN_HUB_HEADERS.signature} header value (v1=<hex>[, v1=<hex>])`)
    .option("--timestamp <unix>", `the ${FIN_HUB_HEADERS.timestamp} header value (unix seconds)`)
    .option("--headers-file <file>", "read both headers from a file of `Name: value` lines instead")
    .option("--tolerance <seconds>", "largest accepted age (or skew) of the timestamp", String(DEFAULT_TOLERANCE_SECONDS))
    .action((opts: { secretEnv: string; bodyFile: string; signature?: string; timestamp?: string; headersFile?: string; tolerance: string }, cmd: Command) => {
      const secret = secretFrom(io, opts.secretEnv);
      const headers: Record<string, string> = opts.headersFile ? parseHeaderLines(readFileFlag(opts.headersFile, "--headers-file").toString("utf8")) : {};
      if (opts.signature) headers[FIN_HUB_HEADERS.signature] = opts.signature;
      if (opts.timestamp) headers[FIN_HUB_HEADERS.timestamp] = opts.timestamp;
      if (!headers[FIN_HUB_HEADERS.signature] || !headers[FIN_HUB_HEADERS.timestamp]) {
        throw new UsageError("give --signature and --timestamp, or --headers-file with both headers");
      }
      const toleranceSeconds = parsePositiveInt(opts.tolerance, "--tolerance", 10 * 365 * 86_400);
      const body = readBody(opts.bodyFile);
      const result = verify(body, headers, secret, { toleranceSeconds });
      if (!result.ok) {
        if (cmd.optsWithGlobals<{ json?: boolean }>().json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
        throw new CliError(`signature invalid: ${result.reason}: ${result.message}`, ExitCode.VERIFY_FAILED);
      }
      const signedAt = new Date(result.timestamp * 1000).toISOString();
      emit(cmd, { ...result, bytes: body.length, batchId: headers[FIN_HUB_HEADERS.batchId] ?? null }, `signature valid: ${body.length} bytes signed at ${timeWithRelative(signedAt)}`);
    });

  finHub
    .command("sign")
    .description("print the signature headers Sandboxer would send with a body now (to test a receiver)")
    .requiredOption("--secret-env <VAR>", "environment variable holding the signing secret")
    .requiredOption("--body-file <file>", "the body to sign, as raw bytes (- for stdin)")
    .action((opts: { secretEnv: string; bodyFile: string }, cmd: Command) => {
      const headers = signatureHeaders([secretFrom(io, opts.secretEnv)], readBody(opts.bodyFile));
      emit(cmd, headers, Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\n"));
    });
}
