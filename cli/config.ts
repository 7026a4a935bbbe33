import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CliError, ExitCode, UsageError } from "./errors";

export const DEFAULT_URL = "http://127.0.0.1:3000";

export type StoredConfig = { url?: string; apiKey?: string };
export type Source = "flag" | "env" | "config" | "default" | "none";
export type ResolvedConfig = {
  url: string;
  apiKey: string | null;
  urlSource: Source;
  apiKeySource: Source;
  configPath: string;
};

/** `$XDG_CONFIG_HOME/sandboxer/config.json`, else `~/.config/sandboxer/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "sandboxer", "config.json");
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
    throw new UsageError(`${file} is not valid JSON; fix it or run \`sandboxer login\` again`);
  }
  if (!parsed || typeof parsed !== "object") throw new UsageError(`${file} must hold a JSON object`);
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
  return url.toString().replace(/\/+$/, "");
}

/** Flags beat environment variables, which beat the config file, which beats the default. */
export function resolveConfig(flags: { url?: string; apiKey?: string }, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const file = configPath(env);
  const stored = readConfigFile(file);
  const pick = (flag: string | undefined, envValue: string | undefined, storedValue: string | undefined) =>
    flag?.trim() ? { value: flag.trim(), source: "flag" as const } : envValue?.trim() ? { value: envValue.trim(), source: "env" as const } : storedValue ? { value: storedValue, source: "config" as const } : null;
  const url = pick(flags.url, env.SANDBOXER_URL, stored.url);
  const key = pick(flags.apiKey, env.SANDBOXER_API_KEY, stored.apiKey);
  const urlLabel = url?.source === "flag" ? "--url" : url?.source === "env" ? "SANDBOXER_URL" : file;
  return {
    url: url ? normaliseUrl(url.value, urlLabel) : DEFAULT_URL,
    urlSource: url?.source ?? "default",
    apiKey: key?.value ?? null,
    apiKeySource: key?.source ?? "none",
    configPath: file,
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
