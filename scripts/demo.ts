/**
 * `npm run demo`: drives a realistic burst through the HTTP API of a RUNNING Sandboxer server and
 * prints what happened, checking that the money adds up.
 *
 *   1. Three new teams, each made the way a person would: sign up (Better Auth), create an
 *      organization, issue an API key, top up credits through the API (the creator is owner).
 *      Two are funded generously, one only for a few sandboxes.
 *   2. ~200 `sandboxes.create` calls at once (bounded concurrency), round-robin over the teams,
 *      TTLs mixed between 5 and 30 s, on profile burst-sandbox.
 *   3. Watches them (polling `sandboxes.list`, with backoff and a deadline) until each is ready or
 *      failed; destroys about half explicitly soon after they are ready and lets the rest reach
 *      their TTL; waits until every one is destroyed or failed.
 *   4. Prints per team and overall: requested, admitted, refused, failed (by reason), ready,
 *      destroyed (on request / at TTL), debited, balance and held; then checks per team that
 *      usage totals == credits given − balance == ledger debits, and held == 0.
 *
 * The stub's failure rate is the server's setting (SANDBOXER_STUB_FAIL_RATE=0.1 when starting
 * it); the demo cannot change it and says so when it sees no failures.
 */
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { createApi, type Api, type RouterOutputs } from "../cli/client";
import { DEFAULT_URL, normaliseUrl } from "../cli/config";
import { networkProblem, toCliError } from "../cli/errors";
import { formatMoney, humanMs, parseDuration, parsePositiveInt } from "../cli/format";
import { table } from "../cli/render";
import { parseDollarsToMicros } from "../server/money";
import { finHubChecks } from "./lib/fin-hub-demo";

type SandboxView = RouterOutputs["sandboxes"]["list"]["items"][number];
type Team = {
  index: number;
  name: string;
  api: Api;
  creditsMicros: bigint;
  short: boolean;
};
type Request = {
  n: number;
  team: Team;
  ttlSeconds: number;
  destroy: boolean;
  id?: string;
  refused?: { code: string; message: string };
  destroyAsked?: boolean;
};

const TERMINAL = new Set(["destroyed", "failed", "lost"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const elapsed = () => humanMs(Date.now() - t0).padStart(7);
const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);

class DemoError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

function options() {
  const program = new Command("demo")
    .description("Drive a burst of sandboxes through a running Sandboxer server and print a summary.")
    .option("--url <url>", "server URL (env SANDBOXER_URL)", process.env.SANDBOXER_URL || DEFAULT_URL)
    .option("--count <n>", "sandboxes to request", "200")
    .option("--teams <n>", "teams to create (the last one is short of credits)", "3")
    .option("--concurrency <n>", "create calls in flight at once", "50")
    .option("--ttl-min <duration>", "shortest TTL", "5s")
    .option("--ttl-max <duration>", "longest TTL", "30s")
    .option("--destroy-share <fraction>", "share of sandboxes destroyed explicitly; the rest reach their TTL", "0.5")
    .option("--credits <dollars>", "credits for each well-funded team", "5")
    .option("--short-credits <dollars>", "credits for the short team (a few sandboxes' worth)", "0.0025")
    .option("--profile <profile>", "profile to create", "burst-sandbox")
    .option("--deadline <duration>", "give up waiting after this long", "90s")
    .addHelpText("after", "\nStart the server with SANDBOXER_STUB_FAIL_RATE=0.1 to see the stub fail 10% of creates.")
    .parse(process.argv);
  const o = program.opts<Record<string, string>>();
  const share = Number(o.destroyShare);
  if (!(share >= 0 && share <= 1)) throw new DemoError(`--destroy-share: "${o.destroyShare}" must be between 0 and 1`, 2);
  const money = (v: string, flag: string) => {
    try {
      return parseDollarsToMicros(v);
    } catch (e) {
      throw new DemoError(`${flag}: ${(e as Error).message}`, 2);
    }
  };
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new DemoError((e as Error).message, 2);
    }
  };
  const ttlMin = wrap(() => parseDuration(o.ttlMin!, "--ttl-min"));
  const ttlMax = wrap(() => parseDuration(o.ttlMax!, "--ttl-max"));
  if (ttlMax < ttlMin) throw new DemoError("--ttl-max must not be below --ttl-min", 2);
  return {
    url: wrap(() => normaliseUrl(o.url!, "--url")),
    count: wrap(() => parsePositiveInt(o.count!, "--count", 10_000)),
    teams: wrap(() => parsePositiveInt(o.teams!, "--teams", 50)),
    concurrency: wrap(() => parsePositiveInt(o.concurrency!, "--concurrency", 1_000)),
    ttlMin,
    ttlMax,
    destroyShare: share,
    credits: money(o.credits!, "--credits"),
    shortCredits: money(o.shortCredits!, "--short-credits"),
    profile: o.profile!,
    deadlineMs: wrap(() => parseDuration(o.deadline!, "--deadline")) * 1000,
  };
}
type Options = ReturnType<typeof options>;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// -------------------------------------------------------------------------------------------------
// Teams through the sign-up endpoint and the console's tRPC procedures

/** A tiny cookie-keeping client for /api/auth/* and tRPC calls (Origin set, as Better Auth requires with cookies). */
function authClient(url: string) {
  const cookies = new Map<string, string>();
  const origin = new URL(url).origin;
  return async function call<T>(path: string, body: unknown): Promise<T> {
    // "/api/…" is one of the console's tRPC procedures, called with the same session cookie;
    // anything else is a Better Auth endpoint under /api/auth.
    const target = path.startsWith("/api/") ? `${url}${path}` : `${url}/api/auth${path}`;
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(target, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          origin,
          ...(cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(";");
        const eq = pair!.indexOf("=");
        if (eq > 0) cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      const text = await res.text();
      if (res.status === 429 && attempt <= 3) {
        // Better Auth limits sign-ups per client (3 per 10 s by default).
        const wait = Number(res.headers.get("x-retry-after")) || 10;
        log(`auth rate limit on ${path}; retrying in ${wait}s`);
        await sleep(wait * 1000 + 200);
        continue;
      }
      if (!res.ok) {
        let message = text.slice(0, 300);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          /* not JSON */
        }
        const hint =
          res.status === 403 && /origin/i.test(message)
            ? ` — Better Auth only trusts the server's own origin: start the server with SANDBOXER_URL=${origin}, or run the demo with --url set to the server's SANDBOXER_URL`
            : "";
        throw new DemoError(`POST ${new URL(target).pathname} failed: HTTP ${res.status} ${message}${hint}`);
      }
      const parsed = JSON.parse(text) as T | { result: { data: T } };
      return path.startsWith("/api/trpc/") ? (parsed as { result: { data: T } }).result.data : (parsed as T);
    }
  };
}

async function createTeam(opts: Options, runId: string, index: number, short: boolean): Promise<Team> {
  const auth = authClient(opts.url);
  const name = `Demo ${runId} team ${String.fromCharCode(65 + (index % 26))}${index >= 26 ? index : ""}${short ? " (short)" : ""}`;
  const email = `demo-${runId}-${index}@sandboxer.local`;
  await auth("/sign-up/email", { email, password: randomBytes(12).toString("base64url"), name: `Demo owner ${index + 1}` });
  // As the console does it: the team through tRPC, made the session's active team, then a key for it.
  const team = await auth<{ id: string }>("/api/trpc/teams.create", { name });
  await auth("/organization/set-active", { organizationId: team.id });
  const key = await auth<{ key: string }>("/api/trpc/apiKeys.create", { name: "demo" });
  const api = createApi({ url: opts.url, apiKey: key.key });
  const creditsMicros = short ? opts.shortCredits : opts.credits;
  const amount = formatMoney(creditsMicros).replace(/^\$/, "");
  await api.credits.topUp.mutate({ amount, idempotencyKey: `demo-${runId}-${index}-initial`, note: "npm run demo" });
  return { index, name, api, creditsMicros, short };
}

// -------------------------------------------------------------------------------------------------

async function listAll(api: Api): Promise<SandboxView[]> {
  const items: SandboxView[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.sandboxes.list.query({ limit: 200, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

async function snapshot(teams: Team[]): Promise<Map<string, SandboxView>> {
  const lists = await Promise.all(teams.map((t) => listAll(t.api)));
  return new Map(lists.flat().map((s) => [s.id, s]));
}

function countStates(reqs: Request[], snap: Map<string, SandboxView>) {
  const counts: Record<string, number> = {};
  for (const r of reqs) {
    if (!r.id) continue;
    const state = snap.get(r.id)?.state ?? "unknown";
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return Object.entries(counts)
    .sort()
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
}

async function main() {
  const opts = options();
  const runId = `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString("hex")}`;

  // 0. Is the server there?
  try {
    const res = await fetch(`${opts.url}/api/health`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) log(`warning: ${opts.url}/api/health answered HTTP ${res.status}; carrying on`);
  } catch (err) {
    const why = networkProblem(err) ?? (err as Error).message;
    throw new DemoError(
      `cannot reach the Sandboxer server at ${opts.url} (${why}). Start one with \`npm run up\` (for the stub's failures: SANDBOXER_STUB_FAIL_RATE=0.1 npm run up), or pass --url / SANDBOXER_URL.`,
      6,
    );
  }
  log(`server ${opts.url}; run ${runId}: ${opts.count} × ${opts.profile} over ${opts.teams} teams, TTL ${opts.ttlMin}–${opts.ttlMax}s, concurrency ${opts.concurrency}`);

  // 1. Teams.
  const teams: Team[] = [];
  for (let i = 0; i < opts.teams; i++) teams.push(await createTeam(opts, runId, i, opts.teams > 1 && i === opts.teams - 1));
  for (const t of teams) log(`team ${t.name}: funded ${formatMoney(t.creditsMicros)}`);

  // 2. The burst.
  const requests: Request[] = Array.from({ length: opts.count }, (_, n) => ({
    n,
    team: teams[n % teams.length]!,
    ttlSeconds: opts.ttlMin + Math.floor(Math.random() * (opts.ttlMax - opts.ttlMin + 1)),
    destroy: Math.random() < opts.destroyShare,
  }));
  const burstStart = Date.now();
  await pool(requests, opts.concurrency, async (r) => {
    try {
      const s = await r.team.api.sandboxes.create.mutate({ profile: opts.profile, ttlSeconds: r.ttlSeconds });
      r.id = s.id;
    } catch (err) {
      const e = err as { data?: { appCode?: string | null; code?: string } };
      const code = e.data?.appCode ?? e.data?.code ?? (networkProblem(err) ? "UNREACHABLE" : "ERROR");
      r.refused = { code, message: toCliError(err, { url: opts.url }).message };
    }
  });
  const admitted = requests.filter((r) => r.id);
  log(`burst: ${opts.count} creates in ${humanMs(Date.now() - burstStart)}; ${admitted.length} admitted, ${opts.count - admitted.length} refused`);
  const unreachable = requests.find((r) => r.refused?.code === "UNREACHABLE");
  if (unreachable) throw new DemoError(unreachable.refused!.message, 6);

  // 3. Watch: destroy the chosen ones shortly after they are ready; wait until all are done.
  const deadline = t0 + opts.deadlineMs;
  const destroys: Promise<void>[] = [];
  let delay = 250;
  let lastReport = 0;
  let snap = new Map<string, SandboxView>();
  for (;;) {
    snap = await snapshot(teams);
    for (const r of admitted) {
      const s = snap.get(r.id!);
      if (r.destroy && !r.destroyAsked && s?.state === "ready") {
        r.destroyAsked = true;
        // Let it run a moment (0.5–3 s) so destroyed sandboxes have varied, billable runtimes.
        destroys.push(
          sleep(500 + Math.random() * 2500).then(async () => {
            await r.team.api.sandboxes.destroy.mutate({ id: r.id! }).catch((err) => log(`destroy ${r.id} failed: ${toCliError(err, { url: opts.url }).message}`));
          }),
        );
      }
    }
    const left = admitted.filter((r) => !TERMINAL.has(snap.get(r.id!)?.state ?? ""));
    if (Date.now() - lastReport > 3_000 || left.length === 0) {
      log(`${countStates(admitted, snap) || "nothing admitted"}`);
      lastReport = Date.now();
    }
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      log(`deadline (${humanMs(opts.deadlineMs)}) passed with ${left.length} sandbox(es) not finished:`);
      console.log(
        table(
          ["ID", "TEAM", "STATE", "TTL", "EXPIRES"],
          left.map((r) => {
            const s = snap.get(r.id!);
            return [r.id!, r.team.name, s?.state ?? "?", `${r.ttlSeconds}s`, s?.expiresAt ?? "—"];
          }),
        ),
      );
      break;
    }
    await sleep(delay);
    delay = Math.min(2_000, Math.round(delay * 1.5));
  }
  await Promise.all(destroys);

  // 4. Accounting, from the server.
  const perTeam = await Promise.all(
    teams.map(async (t) => {
      const [sandboxes, balance, usage, debits] = await Promise.all([
        listAll(t.api),
        t.api.credits.balance.query(),
        usageAll(t.api),
        ledgerDebits(t.api),
      ]);
      return { team: t, sandboxes, balance, usage, debits };
    }),
  );

  // Provider errors absorbed by retries (and failure reasons) need each sandbox's events.
  const providerErrors = new Map<string, number>();
  await pool(admitted, 20, async (r) => {
    const s = await r.team.api.sandboxes.get.query({ id: r.id! });
    const n = s.events.filter((e) => e.kind === "provider_error").length;
    providerErrors.set(r.team.name, (providerErrors.get(r.team.name) ?? 0) + n);
  });

  const rows: string[][] = [];
  const moneyRows: string[][] = [];
  const failureReasons = new Map<string, number>();
  const refusalReasons = new Map<string, number>();
  const checks: { team: string; what: string; ok: boolean; detail: string }[] = [];
  const total = { requested: 0, admitted: 0, refusedCredits: 0, refusedOther: 0, ready: 0, failed: 0, destroyedAsked: 0, destroyedTtl: 0, lost: 0, open: 0, providerErrors: 0 };
  const totalMoney = { funded: 0n, debited: 0n, balance: 0n, held: 0n };

  for (const { team, sandboxes, balance, usage, debits } of perTeam) {
    const mine = requests.filter((r) => r.team === team);
    const ids = new Set(mine.filter((r) => r.id).map((r) => r.id!));
    const views = sandboxes.filter((s) => ids.has(s.id));
    const refusedCredits = mine.filter((r) => r.refused?.code === "INSUFFICIENT_CREDITS").length;
    const refusedOther = mine.filter((r) => r.refused && r.refused.code !== "INSUFFICIENT_CREDITS");
    for (const r of refusedOther) refusalReasons.set(`${r.refused!.code}: ${r.refused!.message}`, (refusalReasons.get(`${r.refused!.code}: ${r.refused!.message}`) ?? 0) + 1);
    const failed = views.filter((s) => s.state === "failed");
    for (const s of failed) {
      // Group like reasons: provider ids, times and counts vary from sandbox to sandbox.
      const reason = (s.failureReason ?? "no reason recorded")
        .replace(/stub-[0-9a-f]+/g, "stub-…")
        .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/g, "…")
        .replace(/\d+ failures in a row/g, "n failures in a row");
      failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
    }
    const endReasons = new Map(usage.items.map((u) => [u.sandboxId, u.endReason ?? ""]));
    const destroyed = views.filter((s) => s.state === "destroyed");
    const destroyedAsked = destroyed.filter((s) => /destroy requested/.test(endReasons.get(s.id) ?? "")).length;
    const lost = views.filter((s) => s.state === "lost").length;
    const open = views.filter((s) => !TERMINAL.has(s.state)).length;
    const ready = views.filter((s) => s.readyAt !== null).length;
    const pe = providerErrors.get(team.name) ?? 0;

    const debited = BigInt(usage.totals.costMicros);
    const balanceMicros = BigInt(balance.balanceMicros);
    const held = BigInt(balance.heldMicros);
    const sandboxCosts = views.reduce((sum, s) => sum + BigInt(s.costMicros ?? "0"), 0n);

    rows.push([
      team.name,
      String(mine.length),
      String(ids.size),
      String(refusedCredits),
      String(refusedOther.length),
      String(ready),
      String(failed.length),
      `${destroyed.length} (${destroyedAsked} asked, ${destroyed.length - destroyedAsked} TTL)`,
      String(lost),
      String(open),
      String(pe),
    ]);
    moneyRows.push([team.name, formatMoney(team.creditsMicros), formatMoney(debited), formatMoney(balanceMicros), formatMoney(held), formatMoney(BigInt(balance.availableMicros))]);

    checks.push({
      team: team.name,
      what: "usage total = credits − balance",
      ok: debited === team.creditsMicros - balanceMicros,
      detail: `${formatMoney(debited)} vs ${formatMoney(team.creditsMicros)} − ${formatMoney(balanceMicros)} = ${formatMoney(team.creditsMicros - balanceMicros)}`,
    });
    checks.push({ team: team.name, what: "ledger debits = usage total", ok: debits === debited, detail: `${formatMoney(debits)} vs ${formatMoney(debited)}` });
    checks.push({ team: team.name, what: "sandbox final costs = usage total", ok: sandboxCosts === debited, detail: `${formatMoney(sandboxCosts)} vs ${formatMoney(debited)}` });
    checks.push({ team: team.name, what: "held = 0 at the end", ok: held === 0n, detail: formatMoney(held) });
    checks.push({ team: team.name, what: "every sandbox finished", ok: open === 0, detail: `${open} not destroyed/failed` });

    total.requested += mine.length;
    total.admitted += ids.size;
    total.refusedCredits += refusedCredits;
    total.refusedOther += refusedOther.length;
    total.ready += ready;
    total.failed += failed.length;
    total.destroyedAsked += destroyedAsked;
    total.destroyedTtl += destroyed.length - destroyedAsked;
    total.lost += lost;
    total.open += open;
    total.providerErrors += pe;
    totalMoney.funded += team.creditsMicros;
    totalMoney.debited += debited;
    totalMoney.balance += balanceMicros;
    totalMoney.held += held;
  }
  rows.push([
    "ALL",
    String(total.requested),
    String(total.admitted),
    String(total.refusedCredits),
    String(total.refusedOther),
    String(total.ready),
    String(total.failed),
    `${total.destroyedAsked + total.destroyedTtl} (${total.destroyedAsked} asked, ${total.destroyedTtl} TTL)`,
    String(total.lost),
    String(total.open),
    String(total.providerErrors),
  ]);
  moneyRows.push(["ALL", formatMoney(totalMoney.funded), formatMoney(totalMoney.debited), formatMoney(totalMoney.balance), formatMoney(totalMoney.held), formatMoney(totalMoney.balance - totalMoney.held)]);

  console.log(`\nSandboxes (run ${runId}, ${humanMs(Date.now() - t0)}):`);
  console.log(
    table(["TEAM", "REQUESTED", "ADMITTED", "REFUSED: CREDITS", "REFUSED: OTHER", "READY", "FAILED", "DESTROYED", "LOST", "UNFINISHED", "PROVIDER ERRORS (RETRIED)"], rows),
  );
  console.log("\nMoney:");
  console.log(table(["TEAM", "FUNDED", "DEBITED (USAGE)", "BALANCE", "HELD", "AVAILABLE"], moneyRows));
  if (failureReasons.size) {
    console.log("\nFailed sandboxes by reason:");
    console.log(table(["COUNT", "REASON"], [...failureReasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => [String(n), r])));
  }
  if (refusalReasons.size) {
    console.log("\nOther refusals:");
    console.log(table(["COUNT", "REASON"], [...refusalReasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => [String(n), r])));
  }
  console.log("\nChecks (per team):");
  const whats = [...new Set(checks.map((c) => c.what))];
  console.log(
    table(
      ["TEAM", ...whats.map((w) => w.toUpperCase())],
      teams.map((t) => [t.name, ...whats.map((w) => checks.find((c) => c.team === t.name && c.what === w)).map((c) => (c!.ok ? "ok" : `FAIL: ${c!.detail}`))]),
    ),
  );
  const readyTimes = perTeam
    .flatMap((p) => p.sandboxes)
    .filter((s) => s.readyAt)
    .map((s) => new Date(s.readyAt!).getTime() - new Date(s.createdAt).getTime())
    .sort((a, b) => a - b);
  if (readyTimes.length) {
    const q = (p: number) => humanMs(readyTimes[Math.min(readyTimes.length - 1, Math.floor(p * readyTimes.length))]!);
    console.log(`\ntime from request to ready (server clock): p50 ${q(0.5)}, p95 ${q(0.95)}, max ${humanMs(readyTimes.at(-1)!)}`);
  }
  if (total.failed === 0 && total.providerErrors === 0) {
    console.log(
      "\nhint: the stub failed no creates. The failure rate is the server's setting: start it with SANDBOXER_STUB_FAIL_RATE=0.1 (e.g. `SANDBOXER_STUB_FAIL_RATE=0.1 npm run up`) to see failures and retries.",
    );
  } else if (total.failed === 0) {
    console.log(`\nnote: the stub refused ${total.providerErrors} create(s); every one was retried and succeeded, so no sandbox failed for good.`);
  }
  // fin-hub: with SANDBOXER_FIN_HUB_URL at a local receiver, its totals must equal the ledger's.
  checks.push(...(await finHubChecks(perTeam.map((p) => ({ name: p.team.name, api: p.team.api, debitedMicros: p.debits })), log)));
  const bad = checks.filter((c) => !c.ok);
  console.log(bad.length ? `\n${bad.length} check(s) FAILED` : "\nall checks passed");
  return bad.length ? 1 : 0;
}

async function usageAll(api: Api) {
  let page = await api.usage.list.query({ limit: 500 });
  const first = page;
  const items = [...page.items];
  while (page.nextCursor) {
    page = await api.usage.list.query({ limit: 500, cursor: page.nextCursor });
    items.push(...page.items);
  }
  return { items, totals: first.totals };
}

async function ledgerDebits(api: Api): Promise<bigint> {
  let sum = 0n;
  let cursor: string | undefined;
  do {
    const page = await api.credits.ledger.query({ limit: 500, cursor });
    for (const e of page.items) if (e.kind === "debit") sum += BigInt(e.amountMicros);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return sum;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof DemoError) {
      console.error(`demo: ${err.message}`);
      process.exit(err.exitCode);
    }
    const e = toCliError(err, { url: process.env.SANDBOXER_URL || DEFAULT_URL });
    console.error(`demo failed: ${e.message}`);
    if (process.env.SANDBOXER_DEBUG === "1" && err instanceof Error) console.error(err.stack);
    process.exit(e.exitCode);
  },
);
