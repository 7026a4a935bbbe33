/**
 * The `sandboxer` command line: commander definitions and one action per command. Each action
 * prints either a human view (tables) or, with --json, exactly one JSON document of the raw API
 * result on stdout. Errors go to stderr as `error: …` with a documented exit code (errors.ts).
 */
import fs from "node:fs";
import { Command, CommanderError } from "commander";
import { createApi, requireApiKey, type Api } from "./client";
import { checkApiKey, checkEnv, checkFlags, describeSource, resolveConfig, readConfigFileTolerantly, writeConfigFile, type ResolvedConfig } from "./config";
import { CliError, EXIT_CODE_HELP, ExitCode, toCliError, UsageError } from "./errors";
import { registerFinHubCommands } from "./fin-hub";
import { registerReconcilerCommands } from "./reconciler";
import { formatMoney, humanMs, humanSeconds, parseDuration, parsePositiveInt, printable, printableLines, timeWithRelative, withoutRepeats } from "./format";
import {
  describeEvent,
  eventsSection,
  keyValues,
  planSection,
  profileSection,
  routingSection,
  sandboxDetails,
  sandboxListTable,
  usageTable,
  type SandboxDetail,
  type SandboxView,
} from "./render";

const SANDBOX_STATES = ["requested", "provisioning", "ready", "destroying", "destroyed", "failed", "lost"] as const;
const TERMINAL = new Set(["destroyed", "failed", "lost"]);

export type Io = { stdout: (text: string) => void; stderr: (text: string) => void; env: NodeJS.ProcessEnv };

type Globals = { url?: string; apiKey?: string; json?: boolean };

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

const collect = (value: string, previous: string[]) => [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];

/** Where the key in use came from, as the start of an error about it. */
function keyLabel(cfg: ResolvedConfig): string {
  switch (cfg.apiKeySource) {
    case "flag":
      return "--api-key";
    case "env":
      return "SANDBOXER_API_KEY";
    case "config":
      return `the key saved in ${cfg.configPath} (\`sandboxer login\` saves a new one)`;
    default:
      return "the API key";
  }
}

/** What to check when the server refuses a key, by where the key came from. */
function authHint(cfg: ResolvedConfig): string | undefined {
  switch (cfg.apiKeySource) {
    case "flag":
      return "check the key given with --api-key";
    case "env":
      return "check the key in SANDBOXER_API_KEY (or pass --api-key)";
    case "config":
      return `check the key saved in ${cfg.configPath} (\`sandboxer login\` saves a new one)`;
    default:
      return undefined;
  }
}

/**
 * Builds the program. `io` is where output goes; `state` is kept for error messages: the server
 * URL, and what to check when the server refuses the key.
 */
export function buildProgram(io: Io, state: { url: string; authHint?: string }) {
  const program = new Command("sandboxer");

  const ctx = (cmd: Command) => {
    const g = cmd.optsWithGlobals<Globals>();
    // login and logout replace the config file, so a broken one must not stop them.
    const cfg = resolveConfig({ url: g.url, apiKey: g.apiKey }, io.env, { tolerateBadConfig: cmd.name() === "login" || cmd.name() === "logout" });
    state.url = cfg.url;
    state.authHint = authHint(cfg);
    const json = Boolean(g.json);
    return {
      cfg,
      json,
      api: (): Api => createApi({ url: cfg.url, apiKey: requireApiKey(cfg.apiKey, keyLabel(cfg)), timeoutMs: cfg.timeoutMs }),
      /**
       * Human output. Values from the server are escaped where tables render them (render.ts);
       * this is the net under everything else printed: no terminal control gets through.
       */
      out: (text: string) => io.stdout(printableLines(text.endsWith("\n") ? text : `${text}\n`)),
      /** Progress for people; silent in --json mode so scripts see only the document. */
      progress: (text: string) => {
        if (!json) io.stderr(printableLines(`${text}\n`));
      },
      emitJson: (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`),
    };
  };
  type Ctx = ReturnType<typeof ctx>;

  program
    .name("sandboxer")
    .description("Create, inspect and destroy short-lived cloud sandboxes through a Sandboxer server.")
    .version(version(), "-V, --version")
    .option("--url <url>", "server URL (env SANDBOXER_URL, else the login config, else http://127.0.0.1:3000)")
    .option("--api-key <key>", "API key, sent as a Bearer token (env SANDBOXER_API_KEY, else the login config)")
    .option("--json", "print the raw API result as one JSON document on stdout, and nothing else")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    // Before any command runs: an empty --url/--api-key or a bad environment variable is refused.
    .hook("preAction", (_program, action) => {
      if (action.name() === "help") return; // help is shown whatever else is wrong
      checkFlags(action.optsWithGlobals<Globals>());
      checkEnv(io.env);
    })
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .addHelpText(
      "after",
      `
Money is shown in exact dollars from the API's integer micro-dollars ($0.000130).
Durations (--ttl, --by, --timeout) take whole seconds or units: 90, 90s, 10m, 1h, 1h30m.

Configuration: --url/--api-key beat SANDBOXER_URL/SANDBOXER_API_KEY, which beat the file
written by \`sandboxer login\` ($XDG_CONFIG_HOME/sandboxer/config.json, else
~/.config/sandboxer/config.json). The API key is never printed.

${EXIT_CODE_HELP}

Docs: docs/cli.md`,
    );

  // ---------------------------------------------------------------------------------------------
  program
    .command("create")
    .description("request a sandbox; --wait follows it until it is ready or failed")
    .requiredOption("-p, --profile <profile>", 'profile, e.g. "burst-sandbox" or "profile.burst-sandbox"')
    .option("-t, --ttl <duration>", "time to live, e.g. 90, 90s, 10m, 1h30m (default: the profile's)")
    .option("-w, --wait", "wait until the sandbox is ready or failed, showing its state changes")
    .option("--timeout <duration>", "how long --wait waits", "2m")
    .action(async (opts: { profile: string; ttl?: string; wait?: boolean; timeout: string }, cmd: Command) => {
      const c = ctx(cmd);
      const ttlSeconds = opts.ttl !== undefined ? parseDuration(opts.ttl, "--ttl") : undefined;
      const timeoutMs = parseDuration(opts.timeout, "--timeout") * 1000;
      const profile = opts.profile.trim();
      if (!profile) throw new UsageError("--profile: a profile name is required (see `sandboxer profiles`)");
      const api = c.api();
      const created = await api.sandboxes.create.mutate({ profile, ttlSeconds });
      if (!opts.wait) {
        if (c.json) return c.emitJson(created);
        c.out(sandboxDetails(created));
        // The worker routes the request; show the plan now and point at `get` for the outcome.
        const plan = await api.sandboxes.preview.query({ profile, ttlSeconds: created.ttlSeconds }).catch(() => null);
        if (plan) c.out(planSection(plan, "Route plan"));
        c.out(`The worker routes the request when it provisions; \`sandboxer get ${created.id}\` shows the outcome (or use --wait).`);
        return;
      }

      c.progress(`created ${created.id} on ${created.profileId}, TTL ${humanSeconds(created.ttlSeconds)}, held ${formatMoney(created.holdMicros)}; waiting…`);
      const final = await waitFor(api, c, created.id, (s) => s.state !== "requested" && s.state !== "provisioning", {
        timeoutMs,
        goal: "ready",
        showFrom: () => 0,
      });
      printSandbox(c, final, { events: false });
      if (final.state !== "ready") {
        throw new CliError(
          `sandbox ${final.id} ${final.state === "failed" ? `failed: ${final.failureReason ?? "no reason recorded"}` : `ended ${final.state} before it was ready`}`,
          ExitCode.SANDBOX_FAILED,
        );
      }
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("ls")
    .alias("list")
    .description("list your team's sandboxes, newest first")
    .option("-s, --state <state>", `filter by state (repeat or comma-separate): ${SANDBOX_STATES.join(", ")}`, collect, [])
    .option("-p, --profile <profile>", "filter by profile")
    .option("-e, --extension <extension>", "filter by provider extension, e.g. ext.saas-stub")
    .option("-n, --limit <n>", "page size, 1-200 (default 50)")
    .option("--cursor <id>", "continue after this sandbox id (the previous page's nextCursor)")
    .option("-a, --all", "follow nextCursor and list every match")
    .action(async (opts: { state: string[]; profile?: string; extension?: string; limit?: string; cursor?: string; all?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      for (const s of opts.state) {
        if (!(SANDBOX_STATES as readonly string[]).includes(s)) throw new UsageError(`--state: "${s}" is not a state (${SANDBOX_STATES.join(", ")})`);
      }
      const limit = opts.limit !== undefined ? parsePositiveInt(opts.limit, "--limit", 200) : opts.all ? 200 : undefined;
      const api = c.api();
      const filter = {
        state: opts.state.length ? (opts.state as (typeof SANDBOX_STATES)[number][]) : undefined,
        profile: opts.profile,
        extension: opts.extension,
        limit,
      };
      let page = await api.sandboxes.list.query({ ...filter, cursor: opts.cursor });
      const items = [...page.items];
      while (opts.all && page.nextCursor) {
        page = await api.sandboxes.list.query({ ...filter, cursor: page.nextCursor });
        items.push(...page.items);
      }
      const result = { items, nextCursor: page.nextCursor };
      if (c.json) return c.emitJson(result);
      if (items.length === 0) return c.out("no sandboxes match.");
      c.out(sandboxListTable(items));
      c.out(
        `${items.length} sandbox${items.length === 1 ? "" : "es"}${result.nextCursor ? ` shown; more with --all or --cursor ${result.nextCursor}` : ""}`,
      );
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("get")
    .description("show a sandbox: details, routing, cost and event timeline")
    .argument("<id>", "sandbox id (sbx_…)")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const s = await c.api().sandboxes.get.query({ id: id.trim() });
      printSandbox(c, s, { events: true });
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("extend")
    .description("extend a ready sandbox's TTL")
    .argument("<id>", "sandbox id (sbx_…)")
    .requiredOption("-b, --by <duration>", "how much longer, e.g. 10m")
    .action(async (id: string, opts: { by: string }, cmd: Command) => {
      const c = ctx(cmd);
      const bySeconds = parseDuration(opts.by, "--by");
      const api = c.api();
      // The TTL before, to tell what was granted: a provider may grant less than asked (E2B clamps to its plan).
      const before = c.json ? null : await api.sandboxes.get.query({ id: id.trim() }).catch(() => null);
      const s = await api.sandboxes.extend.mutate({ id: id.trim(), bySeconds });
      if (c.json) return c.emitJson(s);
      const grew = before ? s.ttlSeconds - before.ttlSeconds : bySeconds;
      const by = grew < bySeconds ? `${humanSeconds(Math.max(grew, 0))} of the ${humanSeconds(bySeconds)} asked (${s.extensionId ?? "the provider"} granted no more)` : humanSeconds(bySeconds);
      c.out(
        `extended ${s.id} by ${by}: TTL now ${humanSeconds(s.ttlSeconds)}, expires ${s.expiresAt ? timeWithRelative(s.expiresAt) : "—"}; held ${formatMoney(s.holdMicros)}`,
      );
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("destroy")
    .alias("rm")
    .description("destroy a sandbox; --wait waits until it is gone and prints the final cost")
    .argument("<id>", "sandbox id (sbx_…)")
    .option("-w, --wait", "wait until the sandbox is destroyed")
    .option("--timeout <duration>", "how long --wait waits", "2m")
    .action(async (id: string, opts: { wait?: boolean; timeout: string }, cmd: Command) => {
      const c = ctx(cmd);
      const timeoutMs = parseDuration(opts.timeout, "--timeout") * 1000;
      const api = c.api();
      const s = await api.sandboxes.destroy.mutate({ id: id.trim() });
      if (!opts.wait) {
        if (c.json) return c.emitJson(s);
        c.out(
          TERMINAL.has(s.state)
            ? `${s.id} is already ${s.state}; final cost ${formatMoney(s.costMicros)}`
            : `destroy requested for ${s.id} (state ${s.state}); \`sandboxer get ${s.id}\` shows when it is gone, or use --wait`,
        );
        return;
      }
      // A teardown the worker has given up on (attention) will not finish by waiting: stop there.
      const final = await waitFor(api, c, s.id, (x) => TERMINAL.has(x.state) || Boolean(x.attentionReason), {
        timeoutMs,
        goal: "destroyed",
        // Show what happened from this destroy request on, not the sandbox's whole history.
        showFrom: (events) => Math.max(0, events.map((e) => e.kind).lastIndexOf("destroy_requested")),
      });
      if (c.json) c.emitJson(final);
      if (!TERMINAL.has(final.state)) {
        throw new CliError(
          `${final.id} is still ${final.state} and needs a person — ${final.attentionReason}. The sandbox may still run at ${final.extensionId ?? "the provider"} and its hold stays in place until it is settled; fix the cause, then have an operator re-run its teardown (the provider's runbook in docs/runbooks, "Errors and what to do")`,
          ExitCode.SANDBOX_FAILED,
        );
      }
      if (c.json) return;
      const ran = final.startedAt && final.endedAt ? humanMs(new Date(final.endedAt).getTime() - new Date(final.startedAt).getTime()) : null;
      c.out(`${final.id} ${final.state}${ran ? ` after running ${ran}` : ""}; final cost ${formatMoney(final.costMicros ?? "0")}`);
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("balance")
    .description("your team's credit balance, held and available")
    .action(async (_opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const b = await c.api().credits.balance.query();
      if (c.json) return c.emitJson(b);
      c.out(
        keyValues([
          ["balance", formatMoney(b.balanceMicros)],
          ["held", formatMoney(b.heldMicros)],
          ["available", formatMoney(b.availableMicros)],
        ]),
      );
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("usage")
    .description("usage records (one per finished sandbox) and their total")
    .option("--from <date>", "ended at or after, YYYY-MM-DD or an ISO time")
    .option("--to <date>", "ended before, YYYY-MM-DD or an ISO time")
    .option("-e, --extension <extension>", "filter by provider extension")
    .option("-p, --profile <profile>", "filter by profile")
    .option("-n, --limit <n>", "page size, 1-500 (default 50)")
    .option("-a, --all", "follow nextCursor and list every record")
    .action(async (opts: { from?: string; to?: string; extension?: string; profile?: string; limit?: string; all?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const from = opts.from !== undefined ? parseDate(opts.from, "--from") : undefined;
      const to = opts.to !== undefined ? parseDate(opts.to, "--to") : undefined;
      const limit = opts.limit !== undefined ? parsePositiveInt(opts.limit, "--limit", 500) : opts.all ? 500 : undefined;
      if (from && to) checkRange(from, to, { from: opts.from!.trim(), to: opts.to!.trim() });
      const api = c.api();
      const filter = { from, to, extension: opts.extension, profile: opts.profile, limit };
      let page = await api.usage.list.query(filter);
      const first = page;
      const items = [...page.items];
      while (opts.all && page.nextCursor) {
        page = await api.usage.list.query({ ...filter, cursor: page.nextCursor });
        items.push(...page.items);
      }
      const result = { items, nextCursor: page.nextCursor, totals: first.totals };
      if (c.json) return c.emitJson(result);
      c.out(usageTable(result));
      if (result.nextCursor) c.out(`showing ${items.length} of ${result.totals.count}; the total covers all of them (--all lists every record)`);
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("profiles")
    .description("profiles you can create, their routes and what each provider would cost")
    .action(async (_opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const profiles = await c.api().profiles.list.query();
      if (c.json) return c.emitJson(profiles);
      c.out(profiles.map(profileSection).join("\n\n"));
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("whoami")
    .description("who the API key belongs to, and which server and config are in use")
    .action(async (_opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const me = await c.api().me.whoami.query();
      if (c.json) return c.emitJson(me);
      c.out(
        keyValues([
          ["user", me.email ? `${me.email} (${me.userId})` : me.userId],
          ["team", me.teamId ? `${me.teamName ?? "?"} (${me.teamId})` : "none"],
          ["role", me.role ?? "—"],
          ["signed in via", me.via === "api_key" ? "API key" : me.via],
          ["server", `${c.cfg.url} (${describeSource(c.cfg.urlSource, c.cfg.configPath)})`],
          ["API key", describeSource(c.cfg.apiKeySource, c.cfg.configPath)],
        ]),
      );
    });

  // ---------------------------------------------------------------------------------------------
  program
    .command("login")
    .description("check a server URL and API key, then save them to the config file (mode 0600)")
    .option("--api-key-stdin", "read the API key from stdin instead of --api-key (keeps it out of shell history)")
    .option("--no-verify", "save without checking the key against the server")
    .action(async (opts: { apiKeyStdin?: boolean; verify: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      // A new key: from stdin, --api-key or SANDBOXER_API_KEY — never the one already saved.
      const fromArgs = c.cfg.apiKeySource === "flag" || c.cfg.apiKeySource === "env";
      const apiKey = opts.apiKeyStdin ? (await readStdin()).trim() || null : fromArgs ? c.cfg.apiKey : null;
      if (!apiKey) throw new UsageError("login needs an API key: --api-key KEY, --api-key-stdin, or SANDBOXER_API_KEY");
      const keyFrom = opts.apiKeyStdin ? "read from stdin" : c.cfg.apiKeySource === "flag" ? "given with --api-key" : "in SANDBOXER_API_KEY";
      // Checked before it is sent or saved (--no-verify too): a key with a line break would be saved as is.
      checkApiKey(apiKey, opts.apiKeyStdin ? "the key read from stdin" : c.cfg.apiKeySource === "flag" ? "--api-key" : "SANDBOXER_API_KEY", "nothing was sent or saved");
      state.authHint = `nothing was saved; check the key ${keyFrom}`;
      const url = c.cfg.url;
      let me: Awaited<ReturnType<Api["me"]["whoami"]["query"]>> | null = null;
      if (opts.verify) me = await createApi({ url, apiKey, timeoutMs: c.cfg.timeoutMs }).me.whoami.query();
      const { stored: existing } = readConfigFileTolerantly(c.cfg.configPath);
      writeConfigFile(c.cfg.configPath, { ...existing, url, apiKey });
      const result = { url, configPath: c.cfg.configPath, verified: opts.verify, whoami: me };
      if (c.json) return c.emitJson(result);
      c.out(
        `saved ${url} and the API key to ${c.cfg.configPath}${me ? ` (user ${me.email ?? me.userId}, team ${me.teamName ?? me.teamId ?? "none"}, role ${me.role ?? "—"})` : " (not verified)"}`,
      );
      if (c.cfg.configProblem) c.progress(`(the file had to be replaced: ${c.cfg.configProblem})`);
    });

  program
    .command("logout")
    .description("remove the saved API key from the config file")
    .action(async (_opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const { stored: existing, problem } = readConfigFileTolerantly(c.cfg.configPath);
      // A file that cannot be read as a config may still hold a key: it is replaced all the same.
      const unreadable = problem !== null && !existing.apiKey;
      const had = Boolean(existing.apiKey) || unreadable;
      if (had) writeConfigFile(c.cfg.configPath, existing.url ? { url: existing.url } : {});
      if (c.json) return c.emitJson({ configPath: c.cfg.configPath, removed: had });
      c.out(
        unreadable
          ? `replaced ${c.cfg.configPath} with an empty config (${problem}): no API key is saved`
          : had
            ? `removed the API key from ${c.cfg.configPath}`
            : `no API key saved in ${c.cfg.configPath}`,
      );
    });

  registerFinHubCommands(program, io);
  registerReconcilerCommands(program, ctx);

  // `help [command...]` in place of commander's own, at the top and in each command group.
  for (const group of [...program.commands.filter((cmd) => cmd.commands.length > 0), program]) addHelpCommand(group);

  // ---------------------------------------------------------------------------------------------
  function printSandbox(c: Ctx, s: SandboxDetail, opts: { events: boolean }) {
    if (c.json) return c.emitJson(s);
    c.out(sandboxDetails(s));
    c.out(routingSection(s));
    if (opts.events) c.out(eventsSection(s.events, s.createdAt));
  }

  return program;
}

/**
 * Replaces commander's help command, which answers an unknown name with the whole help and no
 * word of what was wrong. This one refuses it like `sandboxer nosuch` does: "unknown command
 * 'nosuch'", with commander's suggestion of a close name, exit 2. It also takes a path
 * (`help fin-hub verify`).
 */
function addHelpCommand(group: Command): void {
  group.helpCommand(false);
  group
    .command("help")
    .description("display help for command")
    .argument("[command...]", "a command, or a command and its subcommand")
    .action(async (names: string[]) => {
      let target: Command = group;
      for (const name of names) {
        const next = target.commands.find((sub) => sub.name() === name || sub.aliases().includes(name));
        if (!next) {
          // Parsing the name alone takes commander's own unknown-command path (message,
          // suggestion, "(run with --help for usage)") over this level's commands.
          if (target.commands.length > 0) await target.parseAsync([name], { from: "user" });
          target.error(`error: unknown command '${[...commandPath(target), name].join(" ")}'`, { code: "commander.unknownCommand" });
        }
        target = next;
      }
      target.help();
    });
}

/** `sandboxer fin-hub verify` → ["fin-hub", "verify"]. */
function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

const instant = (date: string) => Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T00:00:00Z` : date);

/**
 * A usage range that selects nothing is refused, as a reversed one is: --to is exclusive, so
 * `--from 2026-12-03 --to 2026-12-03` is empty — the hint names the --to that covers the day.
 */
function checkRange(from: string, to: string, typed: { from: string; to: string }): void {
  const [start, end] = [instant(from), instant(to)];
  if (end < start) throw new UsageError(`--to ${typed.to} is before --from ${typed.from}`);
  if (end === start) {
    const day = /^\d{4}-\d{2}-\d{2}$/.test(from) ? new Date(start + 86_400_000).toISOString().slice(0, 10) : null;
    throw new UsageError(
      `--to ${typed.to} is the same time as --from ${typed.from}, so the range is empty: --to is exclusive; ${day ? `use --to ${day} for that day` : "give a later --to"}`,
    );
  }
}

/** Accepts YYYY-MM-DD as is; any other parseable time is sent as ISO UTC. */
function parseDate(input: string, flag: string): string {
  const text = input.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = new Date(`${text}T00:00:00Z`);
    // Date.parse rolls 2026-02-30 over to March 2: a day must come back as itself.
    if (!Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text) return text;
    throw new UsageError(`${flag}: "${input}" is not a calendar date`);
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`${flag}: "${input}" is not a date (use YYYY-MM-DD or an ISO time such as 2026-12-01T09:00:00Z)`);
  return new Date(t).toISOString();
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `sandboxes.get` until `done`, printing each new event as a progress line (state changes,
 * routing, provider errors). Backs off from 200 ms to 2 s between polls.
 */
async function waitFor(
  api: Api,
  c: { progress: (t: string) => void },
  id: string,
  done: (s: SandboxView) => boolean,
  opts: { timeoutMs: number; goal: string; showFrom: (events: SandboxDetail["events"]) => number },
): Promise<SandboxDetail> {
  const started = Date.now();
  const seen = new Set<string>();
  let first = true;
  let delay = 200;
  for (;;) {
    const s = await api.sandboxes.get.query({ id });
    const from = first ? opts.showFrom(s.events) : 0;
    for (const [i, e] of s.events.entries()) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      if (i < from) continue;
      const t = humanMs(new Date(e.at).getTime() - new Date(s.createdAt).getTime());
      c.progress(`  +${t.padEnd(7)} ${describeEvent(e).padEnd(26)} ${printable(withoutRepeats(e.reason ?? ""))}`);
    }
    first = false;
    if (done(s)) return s;
    if (Date.now() - started > opts.timeoutMs) {
      throw new CliError(
        `gave up waiting after ${humanMs(opts.timeoutMs)} for ${id} to be ${opts.goal} (it is ${s.state}; the server carries on — check with \`sandboxer get ${id}\`)`,
        ExitCode.SANDBOX_FAILED,
      );
    }
    await sleep(delay);
    delay = Math.min(2_000, Math.round(delay * 1.5));
  }
}

/** Runs the CLI and returns the exit code; never throws. */
export async function run(argv: string[], io: Io): Promise<number> {
  const state: { url: string; authHint?: string } = { url: "" };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version exit 0; a parse error (already printed by commander) or help shown
      // because no command was given is a usage error.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const e = toCliError(err, { url: state.url || "the server", authHint: state.authHint });
    // Messages often carry the server's or a provider's text: one line, no terminal controls.
    io.stderr(`error: ${printable(withoutRepeats(e.message))}\n`);
    // SANDBOXER_DEBUG was checked before the command ran (checkEnv); "1" turns this on.
    if (e.exitCode === ExitCode.UNEXPECTED && io.env.SANDBOXER_DEBUG?.trim() === "1" && err instanceof Error && err.stack) io.stderr(`${printableLines(err.stack)}\n`);
    return e.exitCode;
  }
}

