import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CliError, ExitCode, UsageError } from "./errors";

export const DEFAULT_URL = "http://127.0.0.1:3000";
export const DEFAULT_TIMEOUT_MS = 30_000;
/** The longest timer Node keeps: a longer one fires at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Environment variables as the CLI reads them (process.env, or a test's own). */
type Env = Record<string, string | undefined>;

export type StoredConfig = { url?: string; apiKey?: string };
export type Source = "flag" | "env" | "config" | "default" | "none";
export type ResolvedConfig = {
  url: string;
  apiKey: string | null;
  urlSource: Source;
  apiKeySource: Source;
  configPath: string;
  /** Per-request timeout (SANDBOXER_TIMEOUT_MS). */
  timeoutMs: number;
  /**
   * Why the saved config was set aside (login and logout only: they must work on a broken file,
   * which they replace); null when it was read, or was not there.
   */
  configProblem: string | null;
};

/** `$XDG_CONFIG_HOME/sandboxer/config.json`, else `~/.config/sandboxer/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "sandboxer", "config.json");
}

/** A config file that is there but cannot be used; `sandboxer login` (or logout) replaces it. */
export class ConfigFileError extends UsageError {
  constructor(
    file: string,
    readonly reason: string,
  ) {
    super(`${file} ${reason}; fix it, or run \`sandboxer login\` (or \`sandboxer logout\`) to replace it`);
    this.name = "ConfigFileError";
  }
}

export function readConfigFile(file: string): StoredConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, ExitCode.UNEXPECTED);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigFileError(file, "is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigFileError(file, "does not hold a JSON object");
  const { url, apiKey } = parsed as Record<string, unknown>;
  return {
    url: typeof url === "string" && url ? url : undefined,
    apiKey: typeof apiKey === "string" && apiKey ? apiKey : undefined,
  };
}

/** Writes the config with mode 0600 (directory 0700), replacing the file atomically. */
export function writeConfigFile(file: string, config: StoredConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Checks and normalises a server URL: http(s), no trailing slash. */
export function normaliseUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new UsageError(`${from}: "${raw}" is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${from}: "${raw}" must start with http:// or https://`);
  if (url.username || url.password) throw new UsageError(`${from}: put credentials in --api-key, not in the URL`);
  // The API's path is appended to the URL: a query or fragment would swallow it (…/?x=1/api/trpc).
  if (url.search || url.hash) {
    throw new UsageError(`${from}: "${raw}" has a ${url.search ? "query (?…)" : "fragment (#…)"}; give the server's base URL, e.g. ${url.origin}${url.pathname.replace(/\/+$/, "")}`);
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

/**
 * An explicitly empty --url or --api-key (`--api-key ""`, or `--api-key "$KEY"` with KEY unset)
 * is a mistake, not a request for the next source: falling back would quietly use another key.
 */
export function checkFlags(flags: { url?: string; apiKey?: string }): void {
  if (flags.url !== undefined && !flags.url.trim()) {
    throw new UsageError(`--url: the URL is empty; give a server URL (e.g. ${DEFAULT_URL}), or leave --url out to use SANDBOXER_URL or the login config`);
  }
  if (flags.apiKey !== undefined && !flags.apiKey.trim()) {
    throw new UsageError("--api-key: the key is empty; give a key, or leave --api-key out to use SANDBOXER_API_KEY or the login config");
  }
}

/**
 * What is wrong with an API key that cannot be sent as `Authorization: Bearer <key>`, or null.
 * Keys are printable ASCII without spaces; a pasted line break, a tab, a space or a non-ASCII
 * character would otherwise fail inside fetch with a message that quotes the whole header — the
 * key included — or reach the server as another key. Never quotes the key itself.
 */
export function apiKeyProblem(key: string): string | null {
  for (const [i, ch] of [...key].entries()) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x21 && code <= 0x7e) continue;
    const what =
      ch === "\n" || ch === "\r"
        ? "a line break"
        : ch === " "
          ? "a space"
          : ch === "\t"
            ? "a tab"
            : code < 0x20 || (code >= 0x7f && code <= 0x9f)
              ? "a control character"
              : `a non-ASCII character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
    return `it has ${what} at position ${i + 1}, and an API key is letters, digits and punctuation only (sbxk_…)`;
  }
  return null;
}

/**
 * Refuses (exit 2) a key that cannot be an API key, naming where it came from (`--api-key`,
 * `SANDBOXER_API_KEY`, the config file, stdin) but never printing it.
 */
export function checkApiKey(key: string, from: string, outcome = "nothing was sent"): string {
  const problem = apiKeyProblem(key);
  if (problem) throw new UsageError(`${from}: this is not an API key: ${problem}; ${outcome}`);
  return key;
}

/**
 * SANDBOXER_TIMEOUT_MS: whole milliseconds, 1 to 2147483647; unset or empty means the default.
 * Anything else is refused rather than quietly replaced by the default.
 */
export function requestTimeoutMs(env: Env = process.env): number {
  const raw = env.SANDBOXER_TIMEOUT_MS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_TIMEOUT_MS;
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_TIMEOUT_MS) {
    throw new UsageError(
      `SANDBOXER_TIMEOUT_MS: "${raw}" is not a timeout; it must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (default ${DEFAULT_TIMEOUT_MS}), or unset`,
    );
  }
  return Number(text);
}

/** SANDBOXER_DEBUG: 1 turns stack traces on for exit-1 errors; 0, empty or unset leaves them off. */
export function debugEnabled(env: Env = process.env): boolean {
  const raw = env.SANDBOXER_DEBUG;
  const text = raw?.trim() ?? "";
  if (text === "" || text === "0") return false;
  if (text === "1") return true;
  throw new UsageError(`SANDBOXER_DEBUG: "${raw}" must be 1 (print a stack trace with unexpected errors) or 0`);
}

/** Checks every environment variable the CLI reads whose value can be wrong. */
export function checkEnv(env: Env = process.env): void {
  requestTimeoutMs(env);
  debugEnabled(env);
}

/**
 * The saved config, or — when it is not valid JSON, not an object, or holds a URL that is not
 * one — what of it can be used and why the rest was set aside. For `login` and `logout`, which
 * replace the file: refusing them too would leave no way out but editing it by hand.
 */
export function readConfigFileTolerantly(file: string): { stored: StoredConfig; problem: string | null } {
  let stored: StoredConfig;
  try {
    stored = readConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    return { stored: {}, problem: `it ${err.reason}` };
  }
  if (stored.url) {
    try {
      normaliseUrl(stored.url, "its url");
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return { stored: { apiKey: stored.apiKey }, problem: err.message };
    }
  }
  return { stored, problem: null };
}

/**
 * Flags beat environment variables, which beat the config file, which beats the default. An
 * empty environment variable counts as unset; an empty flag is refused (checkFlags). A broken
 * config file is refused, unless `tolerateBadConfig` (login, logout) sets it aside.
 */
export function resolveConfig(
  flags: { url?: string; apiKey?: string },
  env: NodeJS.ProcessEnv = process.env,
  opts: { tolerateBadConfig?: boolean } = {},
): ResolvedConfig {
  checkFlags(flags);
  const timeoutMs = requestTimeoutMs(env);
  const file = configPath(env);
  const { stored, problem } = opts.tolerateBadConfig ? readConfigFileTolerantly(file) : { stored: readConfigFile(file), problem: null };
  const pick = (flag: string | undefined, envValue: string | undefined, storedValue: string | undefined) =>
    flag !== undefined ? { value: flag.trim(), source: "flag" as const } : envValue?.trim() ? { value: envValue.trim(), source: "env" as const } : storedValue ? { value: storedValue, source: "config" as const } : null;
  const url = pick(flags.url, env.SANDBOXER_URL, stored.url);
  const key = pick(flags.apiKey, env.SANDBOXER_API_KEY, stored.apiKey);
  const urlLabel = url?.source === "flag" ? "--url" : url?.source === "env" ? "SANDBOXER_URL" : file;
  return {
    url: url ? normaliseUrl(url.value, urlLabel) : DEFAULT_URL,
    urlSource: url?.source ?? "default",
    apiKey: key?.value ?? null,
    apiKeySource: key?.source ?? "none",
    configPath: file,
    timeoutMs,
    configProblem: problem,
  };
}

export function describeSource(source: Source, configFile: string): string {
  switch (source) {
    case "flag":
      return "from the command line";
    case "env":
      return "from the environment";
    case "config":
      return `from ${configFile}`;
    case "default":
      return "default";
    case "none":
      return "not set";
  }
}
