/**
 * What the provider fakes' `main.ts` entry points share (test support, not product code): their
 * flags through node:util parseArgs, with whole-number checks and a usage line on any mistake,
 * and a clean stop on SIGINT/SIGTERM/SIGHUP.
 */
import { parseArgs } from "node:util";

type Spec = { type: "string" | "int"; min?: number; multiple?: boolean; default?: string };
type Values<S extends Record<string, Spec>> = {
  [K in keyof S]: S[K]["multiple"] extends true
    ? S[K]["type"] extends "int"
      ? number[]
      : string[]
    : S[K]["type"] extends "int"
      ? number | undefined
      : string | undefined;
};

function fail(message: string, usage: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

/** Parses `argv` against `spec`; `--help` prints the usage and exits 0, anything wrong exits 2. */
export function parseFakeArgs<S extends Record<string, Spec>>(
  argv: string[],
  usage: string,
  spec: S,
): Values<S> {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, s]) => [
      name,
      {
        type: "string" as const,
        multiple: s.multiple ?? false,
        ...(s.default !== undefined && { default: s.default }),
      },
    ]),
  );
  let parsed: Record<string, string | string[] | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail((err as Error).message, usage);
  }
  if (parsed.help) {
    console.log(usage);
    process.exit(0);
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = parsed[name] as string | string[] | undefined;
    const toValue = (v: string) => {
      if (s.type === "string") return v;
      const n = Number(v);
      if (v.trim() === "" || !Number.isInteger(n) || n < (s.min ?? 0))
        fail(`--${name}: expected a whole number ≥ ${s.min ?? 0}, got ${v}`, usage);
      return n;
    };
    out[name] = Array.isArray(raw)
      ? raw.map(toValue)
      : raw === undefined
        ? s.multiple
          ? []
          : undefined
        : toValue(raw);
  }
  return out as Values<S>;
}

/** Runs `close` once on the first of SIGINT/SIGTERM/SIGHUP, then exits 0. */
export function stopOnSignals(close: () => Promise<unknown>): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void close().finally(() => process.exit(0));
    });
  }
}
