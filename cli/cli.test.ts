/**
 * The real CLI (`node bin/sandboxer.mjs …`, a child process) against a real HTTP server running
 * the production tRPC router, a test runtime on the harness DB and real Redis, and a real worker.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../adapters/saas-stub/stub-adapter";
import { organization, sandboxes } from "../db/schema";
import { ExitCode } from "./errors";
import { startTestServer, type TestServer } from "./test-server";

const BIN = fileURLToPath(new URL("../bin/sandboxer.mjs", import.meta.url));
const ROOT = path.dirname(path.dirname(BIN));

let server: TestServer;
let configHome: string;
let rich: { teamId: string; apiKey: string };
let poor: { teamId: string; apiKey: string };
let payer: { teamId: string; apiKey: string };
const PAYER_CREDITS = 10_000_000n; // $10

type Result = { code: number | null; stdout: string; stderr: string };

/** Runs the CLI as a child process; asynchronous, so this process keeps serving its requests. */
function cli(args: string[], opts: { apiKey?: string | null; url?: string; cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, HOME: configHome, NO_COLOR: "1" };
  for (const name of ["SANDBOXER_API_KEY", "SANDBOXER_URL", "SANDBOXER_TIMEOUT_MS", "SANDBOXER_DEBUG"]) delete env[name];
  Object.assign(env, opts.env);
  env.SANDBOXER_URL = opts.url ?? server.url;
  const key = opts.apiKey === undefined ? rich.apiKey : opts.apiKey;
  if (key) env.SANDBOXER_API_KEY = key;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const json = <T = any>(r: Result): T => {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
};

async function sandboxCount(teamId: string): Promise<number> {
  const [row] = await server.rt.db.select({ n: count() }).from(sandboxes).where(eq(sandboxes.teamId, teamId));
  return Number(row?.n ?? 0);
}

/** A port nothing listens on: bind an ephemeral one, then close it. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  configHome = fs.mkdtempSync(path.join(os.tmpdir(), "sandboxer-cli-test-"));
  server = await startTestServer();
  rich = await server.seedTeam("Rich team", 100_000_000n);
  poor = await server.seedTeam("Poor team", 1_000n); // $0.001: not even a minute of burst-sandbox
  payer = await server.seedTeam("Payer team", PAYER_CREDITS);
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (configHome) fs.rmSync(configHome, { recursive: true, force: true });
}, 60_000);

describe("sandboxer CLI against a live API", { timeout: 60_000 }, () => {
  it("--help documents the exit codes", async () => {
    const r = await cli(["--help"], { apiKey: null });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Exit codes:");
    expect(r.stdout).toMatch(/6\s+server unreachable/);
  });

  it("create --wait goes ready on ext.saas-stub and shows why the other route entries were skipped", async () => {
    const r = await cli(["create", "--profile", "burst-sandbox", "--ttl", "10m", "--wait"]);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/state\s*│\s*ready \(expires in/);
    const routeLine = (ext: string) => r.stdout.split("\n").find((l) => l.startsWith(`│ ${ext} `)) ?? "";
    expect(routeLine("ext.saas-stub")).toContain("chosen");
    for (const ext of ["ext.e2b", "ext.modal"]) {
      expect(routeLine(ext)).toContain("skipped");
      expect(routeLine(ext)).toMatch(/adapter not available|credentials not available/);
    }
    // State changes were shown while waiting (on stderr, away from the result).
    expect(r.stderr).toMatch(/requested → provisioning/);
    expect(r.stderr).toMatch(/provisioning → ready/);
  });

  it("--json prints exactly one parseable document of the raw API result", async () => {
    const created = await cli(["create", "--profile", "profile.burst-sandbox", "--ttl", "90s", "--wait", "--json"]);
    expect(created.code).toBe(ExitCode.OK);
    const s = json(created);
    expect(s).toMatchObject({ state: "ready", extensionId: "ext.saas-stub", ttlSeconds: 90, profileId: "profile.burst-sandbox" });
    expect(typeof s.holdMicros).toBe("string");
    expect(s.routing.candidates.map((c: { extensionId: string; outcome: string }) => [c.extensionId, c.outcome])).toEqual([
      ["ext.e2b", "skipped"],
      ["ext.modal", "skipped"],
      ["ext.saas-stub", "chosen"],
    ]);
    expect(created.stderr).toBe("");

    const list = json(await cli(["ls", "--json", "--state", "ready"]));
    expect(list.items.map((i: { id: string }) => i.id)).toContain(s.id);
    const got = json(await cli(["get", s.id, "--json"]));
    expect(got.id).toBe(s.id);
    expect(got.events.length).toBeGreaterThan(0);
    const balance = json(await cli(["--json", "balance"]));
    expect(Object.keys(balance).sort()).toEqual(["availableMicros", "balanceMicros", "currency", "heldMicros"]);

    const extended = await cli(["extend", s.id, "--by", "1m", "--json"]);
    expect(extended.code).toBe(ExitCode.OK);
    expect(json(extended).ttlSeconds).toBe(150);
  });

  it("refuses usage dates that are not calendar days, or an end before the start, with exit 2", async () => {
    const [feb30, reversed, junk] = await Promise.all([
      cli(["usage", "--from", "2026-02-30"]),
      cli(["usage", "--from", "2026-12-05", "--to", "2026-12-01"]),
      cli(["usage", "--to", "soon"]),
    ]);
    expect(feb30.code).toBe(ExitCode.USAGE);
    expect(feb30.stderr).toBe('error: --from: "2026-02-30" is not a calendar date\n');
    expect(reversed.code).toBe(ExitCode.USAGE);
    expect(reversed.stderr).toBe("error: --to 2026-12-01 is before --from 2026-12-05\n");
    expect(junk.code).toBe(ExitCode.USAGE);
    expect(junk.stderr).toMatch(/^error: --to: "soon" is not a date/);
  });

  it("rejects a bad TTL with exit 2, naming the flag, and creates nothing", async () => {
    const before = await sandboxCount(rich.teamId);
    const bad = ["0", "-5", "ten", "1.5h", "1h30"];
    const results = await Promise.all(bad.map((ttl) => cli(["create", "--profile", "burst-sandbox", `--ttl=${ttl}`])));
    results.forEach((r, i) => {
      expect(r.code, `--ttl ${bad[i]}`).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/^error: --ttl: /);
      expect(r.stdout).toBe("");
    });
    // Above the profile's maximum: the server refuses, and says which field.
    const tooLong = await cli(["create", "--profile", "burst-sandbox", "--ttl", "2h"]);
    expect(tooLong.code).toBe(ExitCode.USAGE);
    expect(tooLong.stderr).toMatch(/^error: ttlSeconds: TTL 7200s is above profile\.burst-sandbox's maximum of 3600s/);
    expect(await sandboxCount(rich.teamId)).toBe(before);
  });

  it("rejects an unknown profile with exit 2, naming the known ones", async () => {
    const r = await cli(["create", "--profile", "no-such-profile"]);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(/^error: profile: unknown profile "no-such-profile"/);
    expect(r.stderr).toContain("profile.burst-sandbox");
  });

  it("exits 4 when the team's credits cannot cover the hold", async () => {
    const r = await cli(["create", "--profile", "burst-sandbox", "--ttl", "10m"], { apiKey: poor.apiKey });
    expect(r.code).toBe(ExitCode.INSUFFICIENT_CREDITS);
    expect(r.stderr).toMatch(/^error: insufficient credits: this needs a hold of \$0\.015600 but \$0\.001000 is available/);
    expect(await sandboxCount(poor.teamId)).toBe(0);
  });

  it("exits 5 for a wrong API key, and for none", async () => {
    const wrong = await cli(["balance"], { apiKey: "sbxk_not-a-real-key" });
    expect(wrong.code).toBe(ExitCode.AUTH);
    expect(wrong.stderr).toMatch(/^error: /);
    expect(wrong.stderr).not.toContain("sbxk_not-a-real-key");
    const none = await cli(["ls"], { apiKey: null });
    expect(none.code).toBe(ExitCode.AUTH);
    expect(none.stderr).toMatch(/^error: no API key/);
  });

  it("exits 6 when the server is unreachable, naming the URL and suggesting `npm run up`", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await cli(["balance"], { url });
    expect(r.code).toBe(ExitCode.UNREACHABLE);
    expect(r.stderr).toContain(url);
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).toContain("npm run up");
  });

  it("destroy --wait ends destroyed with a final cost, and the balance shows the debit", async () => {
    const created = json(await cli(["create", "--profile", "burst-sandbox", "--ttl", "5m", "--wait", "--json"], { apiKey: payer.apiKey }));
    expect(created.state).toBe("ready");
    await new Promise((r) => setTimeout(r, 300)); // run for a moment, so there is something to bill

    const human = await cli(["destroy", created.id, "--wait"], { apiKey: payer.apiKey });
    expect(human.code).toBe(ExitCode.OK);
    expect(human.stdout).toMatch(new RegExp(`${created.id} destroyed after running .*; final cost \\$0\\.\\d{6}`));

    const final = json(await cli(["get", created.id, "--json"], { apiKey: payer.apiKey }));
    expect(final.state).toBe("destroyed");
    const cost = BigInt(final.costMicros);
    expect(cost).toBeGreaterThan(0n);
    expect(cost).toBeLessThanOrEqual(BigInt(created.holdMicros));

    const balance = json(await cli(["balance", "--json"], { apiKey: payer.apiKey }));
    expect(BigInt(balance.balanceMicros)).toBe(PAYER_CREDITS - cost);
    expect(balance.heldMicros).toBe("0");
    const shown = await cli(["balance"], { apiKey: payer.apiKey });
    const dollars = (m: bigint) => `$${m / 1_000_000n}.${(m % 1_000_000n).toString().padStart(6, "0")}`;
    expect(shown.stdout).toContain(dollars(PAYER_CREDITS - cost));

    const usage = json(await cli(["usage", "--json"], { apiKey: payer.apiKey }));
    expect(usage.totals.costMicros).toBe(cost.toString());
    // Destroying again is idempotent and still exits 0.
    expect((await cli(["destroy", created.id], { apiKey: payer.apiKey })).code).toBe(ExitCode.OK);
  });

  it("exits 3 for another team's sandbox, exactly as for a missing one", async () => {
    const mine = json(await cli(["create", "--profile", "burst-sandbox", "--ttl", "1m", "--json"]));
    for (const args of [["get", mine.id], ["destroy", mine.id], ["extend", mine.id, "--by", "1m"]]) {
      const r = await cli(args, { apiKey: payer.apiKey });
      expect(r.code, args.join(" ")).toBe(ExitCode.NOT_FOUND);
      expect(r.stderr).toBe(`error: sandbox ${mine.id} not found\n`);
    }
    // Still there for its owner.
    expect((await cli(["get", mine.id])).code).toBe(ExitCode.OK);
  });

  it("create --wait exits 8 with the reason when the sandbox fails, and shows the failed route entry", async () => {
    await stubControl(server.rt.redis, server.rt.keyPrefix).inject(
      "provision",
      { kind: "invalid", message: "stub: template rejected" },
      { kind: "invalid", message: "stub: template rejected" },
    );
    const human = await cli(["create", "--profile", "burst-sandbox", "--ttl", "1m", "--wait"]);
    expect(human.code).toBe(ExitCode.SANDBOX_FAILED);
    expect(human.stderr).toMatch(/^error: sandbox sbx_\w+ failed: no provider could create the sandbox .*stub: template rejected/m);
    const stubLine = human.stdout.split("\n").find((l) => l.startsWith("│ ext.saas-stub ")) ?? "";
    expect(stubLine).toContain("failed");
    expect(stubLine).toContain("template rejected");

    const asJson = await cli(["create", "--profile", "burst-sandbox", "--ttl", "1m", "--wait", "--json"]);
    expect(asJson.code).toBe(ExitCode.SANDBOX_FAILED);
    expect(json(asJson)).toMatchObject({ state: "failed", costMicros: "0" });
    expect(asJson.stderr).toMatch(/^error: sandbox sbx_\w+ failed: /);
  });

  it("refuses an explicitly empty --api-key or --url with exit 2, naming the flag, instead of falling back to the environment", async () => {
    // SANDBOXER_API_KEY and SANDBOXER_URL are set: an empty flag must not quietly use them.
    const [key, keyEquals, url, login] = await Promise.all([
      cli(["balance", "--api-key", ""]),
      cli(["--api-key=", "balance"]),
      cli(["balance", "--url", " "]),
      cli(["login", "--api-key", ""]),
    ]);
    for (const r of [key, keyEquals, login]) {
      expect(r.code).toBe(ExitCode.USAGE);
      expect(r.stderr).toBe("error: --api-key: the key is empty; give a key, or leave --api-key out to use SANDBOXER_API_KEY or the login config\n");
      expect(r.stdout).toBe("");
    }
    expect(url.code).toBe(ExitCode.USAGE);
    expect(url.stderr).toMatch(/^error: --url: the URL is empty; give a server URL \(e\.g\. http:\/\/127\.0\.0\.1:3000\), or leave --url out/);
    expect(url.stdout).toBe("");
  });

  it("refuses an API key that no header can carry (line break, control, non-ASCII) with exit 2, naming where it came from and never printing it", async () => {
    const secret = "sbxk_qaSecretPart";
    const configFile = path.join(configHome, "sandboxer", "config.json");
    const [env, crlf, flag, unicode, stdin] = await Promise.all([
      cli(["balance"], { apiKey: `${secret}\nrest` }),
      cli(["balance"], { apiKey: `${secret}\r\nrest`, env: { SANDBOXER_DEBUG: "1" } }),
      cli(["balance", "--api-key", `${secret}\u001b[2J`]),
      cli(["whoami", "--api-key", `${secret}ключ`]),
      cli(["login", "--api-key-stdin", "--no-verify"], { apiKey: null, stdin: `${secret}\nsecond line\n` }),
    ]);
    const tail = ", and an API key is letters, digits and punctuation only (sbxk_…); nothing was sent\n";
    expect(env.stderr).toBe(`error: SANDBOXER_API_KEY: this is not an API key: it has a line break at position 18${tail}`);
    expect(crlf.stderr).toBe(`error: SANDBOXER_API_KEY: this is not an API key: it has a line break at position 18${tail}`);
    expect(flag.stderr).toBe(`error: --api-key: this is not an API key: it has a control character at position 18${tail}`);
    expect(unicode.stderr).toBe(`error: --api-key: this is not an API key: it has a non-ASCII character (U+043A) at position 18${tail}`);
    expect(stdin.stderr).toBe(
      "error: the key read from stdin: this is not an API key: it has a line break at position 18, and an API key is letters, digits and punctuation only (sbxk_…); nothing was sent or saved\n",
    );
    for (const r of [env, crlf, flag, unicode, stdin]) {
      expect(r.code, r.stderr).toBe(ExitCode.USAGE);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toContain("qaSecretPart");
    }
    expect(fs.existsSync(configFile)).toBe(false);

    // A key saved by an older CLI: named as the config file's, and logout still removes it.
    fs.mkdirSync(path.dirname(configFile), { recursive: true });
    fs.writeFileSync(configFile, JSON.stringify({ url: server.url, apiKey: `${secret}\nrest` }), { mode: 0o600 });
    try {
      const saved = await cli(["balance"], { apiKey: null });
      expect(saved.code).toBe(ExitCode.USAGE);
      expect(saved.stderr).toBe(
        `error: the key saved in ${configFile} (\`sandboxer login\` saves a new one): this is not an API key: it has a line break at position 18${tail}`,
      );
      expect((await cli(["logout"], { apiKey: null })).code).toBe(ExitCode.OK);
      expect(JSON.parse(fs.readFileSync(configFile, "utf8"))).toEqual({ url: server.url });
    } finally {
      fs.rmSync(configFile, { force: true });
    }
  });

  it("login and logout replace a config file that is not valid JSON (other commands refuse it, pointing at them)", async () => {
    const configFile = path.join(configHome, "sandboxer", "config.json");
    fs.mkdirSync(path.dirname(configFile), { recursive: true });
    const truncated = `{"url": "${server.url}", "apiKey": "sbxk_trunc`;
    try {
      fs.writeFileSync(configFile, truncated, { mode: 0o600 });
      const refused = await cli(["balance"], { apiKey: null });
      expect(refused.code).toBe(ExitCode.USAGE);
      expect(refused.stderr).toBe(`error: ${configFile} is not valid JSON; fix it, or run \`sandboxer login\` (or \`sandboxer logout\`) to replace it\n`);

      const login = await cli(["login", "--api-key", rich.apiKey], { apiKey: null });
      expect(login.code, login.stderr).toBe(ExitCode.OK);
      expect(login.stdout).toMatch(/^saved http:\/\/127\.0\.0\.1:\d+ and the API key to /);
      expect(login.stderr).toBe("(the file had to be replaced: it is not valid JSON)\n");
      expect(JSON.parse(fs.readFileSync(configFile, "utf8"))).toEqual({ url: server.url, apiKey: rich.apiKey });
      expect((await cli(["balance"], { apiKey: null })).code).toBe(ExitCode.OK);

      fs.writeFileSync(configFile, truncated, { mode: 0o600 });
      const logout = await cli(["logout", "--json"], { apiKey: null });
      expect(logout.code, logout.stderr).toBe(ExitCode.OK);
      expect(json(logout)).toEqual({ configPath: configFile, removed: true });
      expect(JSON.parse(fs.readFileSync(configFile, "utf8"))).toEqual({});

      fs.writeFileSync(configFile, "[1]", { mode: 0o600 });
      const array = await cli(["whoami"], { apiKey: null });
      expect(array.code).toBe(ExitCode.USAGE);
      expect(array.stderr).toMatch(/does not hold a JSON object; fix it, or run `sandboxer login`/);
    } finally {
      fs.rmSync(configFile, { force: true });
    }
  });

  it("refuses a server URL with a query or fragment (the API path would land inside it) with exit 2", async () => {
    const [query, fragment, emptyQuery] = await Promise.all([
      cli(["balance", "--url", `${server.url}/?x=1`]),
      cli(["balance"], { url: `${server.url}#top` }),
      cli(["balance", "--url", `${server.url}/?`]),
    ]);
    expect(query.code).toBe(ExitCode.USAGE);
    expect(query.stderr).toBe(`error: --url: "${server.url}/?x=1" has a query (?…); give the server's base URL, e.g. ${server.url}\n`);
    expect(fragment.code).toBe(ExitCode.USAGE);
    expect(fragment.stderr).toBe(`error: SANDBOXER_URL: "${server.url}#top" has a fragment (#…); give the server's base URL, e.g. ${server.url}\n`);
    expect(emptyQuery.code, emptyQuery.stderr).toBe(ExitCode.OK);
  });

  it("says a server whose JSON is not the Sandboxer API's is not the Sandboxer API (exit 1), with its HTTP status", async () => {
    const answers: Record<string, [number, string]> = {
      "/empty": [200, "{}"],
      "/notfound": [404, JSON.stringify({ error: "Not Found", message: "no route" })],
      "/proxy": [502, JSON.stringify({ error: { message: "upstream \u001b[31mdown", code: -32603 } })],
      // tRPC-shaped, but not what the Sandboxer API answers (another tRPC service, another version).
      "/null": [200, JSON.stringify({ result: { data: null } })],
      "/string": [200, JSON.stringify({ result: { data: { json: "hello" } } })],
      "/other": [200, JSON.stringify({ result: { data: { items: "x", balance: 1 } } })],
    };
    const other = http.createServer((req, res) => {
      if (req.url?.startsWith("/redirect/")) return void res.writeHead(307, { location: "https://elsewhere.example/api/trpc" }).end();
      const [status, body] = answers[`/${(req.url ?? "").split("/")[1]}`] ?? [500, "{}"];
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const [empty, notFound, proxy] = (await Promise.all(["/empty", "/notfound", "/proxy"].map((p) => cli(["balance"], { url: `${base}${p}` })))) as [Result, Result, Result];
      expect(empty.stderr).toBe(`error: the server at ${base}/empty did not answer like the Sandboxer API (HTTP 200); is --url / SANDBOXER_URL right?\n`);
      expect(notFound.stderr).toBe(`error: the server at ${base}/notfound did not answer like the Sandboxer API (HTTP 404); is --url / SANDBOXER_URL right?\n`);
      expect(proxy.stderr).toBe(`error: the server at ${base}/proxy did not answer like the Sandboxer API (HTTP 502: upstream \\x1b[31mdown); is --url / SANDBOXER_URL right?\n`);
      for (const r of [empty, notFound, proxy]) {
        expect(r.code).toBe(ExitCode.UNEXPECTED);
        expect(r.stdout).toBe("");
      }
      // A redirect is reported, not followed (a POST would arrive as a GET; the key would go along).
      for (const args of [["balance"], ["create", "--profile", "burst-sandbox", "--ttl", "30s"]]) {
        const r = await cli(args, { url: `${base}/redirect` });
        expect(r.stderr).toBe(
          `error: the server at ${base}/redirect answered with a redirect (HTTP 307 to https://elsewhere.example/api/trpc); point --url / SANDBOXER_URL at the server's own address\n`,
        );
        expect(r.code).toBe(ExitCode.UNEXPECTED);
      }
      for (const p of ["/null", "/string", "/other"]) {
        for (const args of [["balance"], ["ls"], ["get", "sbx_abc123"], ["create", "--profile", "burst-sandbox", "--ttl", "30s"], ["usage"]]) {
          const r = await cli(args, { url: `${base}${p}` });
          const path = { balance: "credits.balance", ls: "sandboxes.list", get: "sandboxes.get", create: "sandboxes.create", usage: "usage.list" }[args[0]!];
          expect(r.stderr, `${p} ${args.join(" ")}`).toBe(
            `error: the server at ${base}${p} did not answer like the Sandboxer API (its answer to ${path} has another shape); is --url / SANDBOXER_URL right, and are the CLI and the server the same version?\n`,
          );
          expect(r.code).toBe(ExitCode.UNEXPECTED);
          expect(r.stdout).toBe("");
        }
      }
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it("refuses a bad SANDBOXER_TIMEOUT_MS or SANDBOXER_DEBUG with exit 2, naming the variable and what it must be", async () => {
    const bad = ["abc", "0", "1.5", "30s", "99999999999"];
    const results = await Promise.all(bad.map((v) => cli(["balance"], { env: { SANDBOXER_TIMEOUT_MS: v } })));
    results.forEach((r, i) => {
      expect(r.code, bad[i]).toBe(ExitCode.USAGE);
      expect(r.stderr).toBe(
        `error: SANDBOXER_TIMEOUT_MS: "${bad[i]}" is not a timeout; it must be a whole number of milliseconds from 1 to 2147483647 (default 30000), or unset\n`,
      );
      expect(r.stdout).toBe("");
    });
    const [debug, unset, fine, tiny, debugOff] = await Promise.all([
      cli(["balance"], { env: { SANDBOXER_DEBUG: "yes" } }),
      cli(["balance"], { env: { SANDBOXER_TIMEOUT_MS: "" } }),
      cli(["balance"], { env: { SANDBOXER_TIMEOUT_MS: "5000" } }),
      cli(["balance"], { env: { SANDBOXER_TIMEOUT_MS: "1" } }),
      cli(["balance"], { env: { SANDBOXER_DEBUG: "0" } }),
    ]);
    expect(debug.code).toBe(ExitCode.USAGE);
    expect(debug.stderr).toBe('error: SANDBOXER_DEBUG: "yes" must be 1 (print a stack trace with unexpected errors) or 0\n');
    for (const r of [unset, fine, debugOff]) expect(r.code, r.stderr).toBe(ExitCode.OK);
    // The value is used: no server answers within a millisecond.
    expect(tiny.code).toBe(ExitCode.UNREACHABLE);
    expect(tiny.stderr).toContain("no answer in time");
  });

  it("`help nosuch` says unknown command, with a suggestion, like `sandboxer nosuch`", async () => {
    const [help, plain, typo, nested, known, path] = await Promise.all([
      cli(["help", "nosuch"]),
      cli(["nosuch"]),
      cli(["help", "lss"]),
      cli(["fin-hub", "help", "verfy"]),
      cli(["help", "ls"]),
      cli(["help", "fin-hub", "verify"]),
    ]);
    expect(help.code).toBe(ExitCode.USAGE);
    expect(help.stderr).toBe("error: unknown command 'nosuch'\n(run with --help for usage)\n");
    expect(help.stdout).toBe("");
    expect(plain.stderr).toBe(help.stderr);
    expect(typo.code).toBe(ExitCode.USAGE);
    expect(typo.stderr).toBe("error: unknown command 'lss'\n(Did you mean ls?)\n(run with --help for usage)\n");
    expect(nested.code).toBe(ExitCode.USAGE);
    expect(nested.stderr).toBe("error: unknown command 'verfy'\n(Did you mean verify?)\n(run with --help for usage)\n");
    expect(known.code).toBe(ExitCode.OK);
    expect(known.stdout).toMatch(/^Usage: sandboxer ls\|list /);
    expect(path.code).toBe(ExitCode.OK);
    expect(path.stdout).toMatch(/^Usage: sandboxer fin-hub verify /);
  });

  it("refuses a usage range that is empty because --to equals --from (--to is exclusive), as it refuses a reversed one", async () => {
    const [day, yearEnd, instant, reversedNoKey] = await Promise.all([
      cli(["usage", "--from", "2026-12-03", "--to", "2026-12-03"]),
      cli(["usage", "--from", "2026-12-31", "--to", "2026-12-31T00:00:00Z"]),
      cli(["usage", "--from", "2026-12-03T10:00:00Z", "--to", "2026-12-03T10:00:00.000Z"]),
      cli(["usage", "--from", "2026-12-05", "--to", "2026-12-01"], { apiKey: null }),
    ]);
    expect(day.code).toBe(ExitCode.USAGE);
    expect(day.stderr).toBe("error: --to 2026-12-03 is the same time as --from 2026-12-03, so the range is empty: --to is exclusive; use --to 2026-12-04 for that day\n");
    expect(day.stdout).toBe("");
    expect(yearEnd.code).toBe(ExitCode.USAGE);
    expect(yearEnd.stderr).toMatch(/use --to 2027-01-01 for that day\n$/);
    expect(instant.code).toBe(ExitCode.USAGE);
    expect(instant.stderr).toMatch(/so the range is empty: --to is exclusive; give a later --to\n$/);
    // Checked before the key is needed: a bad range is a usage error even without one.
    expect(reversedNoKey.code).toBe(ExitCode.USAGE);
  });

  it("a refused key's hint fits the command: login does not suggest `sandboxer login`", async () => {
    const [login, loginEnv, balance] = await Promise.all([
      cli(["login", "--api-key", "sbxk_not-a-real-key"], { apiKey: null }),
      cli(["login"], { apiKey: "sbxk_not-a-real-key" }),
      cli(["balance"], { apiKey: "sbxk_not-a-real-key" }),
    ]);
    expect(login.code).toBe(ExitCode.AUTH);
    expect(login.stderr).toMatch(/^error: .+ — nothing was saved; check the key given with --api-key\n$/);
    expect(loginEnv.code).toBe(ExitCode.AUTH);
    expect(loginEnv.stderr).toMatch(/ — nothing was saved; check the key in SANDBOXER_API_KEY\n$/);
    for (const r of [login, loginEnv]) {
      expect(r.stderr).not.toContain("sandboxer login");
      expect(r.stderr).not.toContain("sbxk_not-a-real-key");
    }
    expect(fs.existsSync(path.join(configHome, "sandboxer", "config.json"))).toBe(false);
    expect(balance.code).toBe(ExitCode.AUTH);
    expect(balance.stderr).toMatch(/ — check the key in SANDBOXER_API_KEY \(or pass --api-key\)\n$/);
  });

  it("shows durations in one style: the ls TTL column, the countdown and get's TTL all read `1m 30s`", async () => {
    const s = json(await cli(["create", "--profile", "burst-sandbox", "--ttl", "90s", "--wait", "--json"]));
    const [ls, got] = await Promise.all([cli(["ls"]), cli(["get", s.id])]);
    const row = ls.stdout.split("\n").find((l) => l.includes(s.id)) ?? "";
    expect(row).toMatch(/│ 1m 30s\s+│ in (1m \d\ds|\d+s)\s+│/);
    expect(got.stdout).toMatch(/│ TTL\s+│ 1m 30s \(90s\)\s+│/);
    // No compact durations (1m30s) anywhere in human output, and the table stays aligned.
    for (const out of [ls.stdout, got.stdout]) expect(out).not.toMatch(/\b\d+[dhm]\d+[hms]\b/);
    const widths = new Set(ls.stdout.split("\n").filter((l) => /^[┌│├└]/.test(l)).map((l) => [...l].length));
    expect(widths.size).toBe(1);
  });

  it("neutralises terminal controls in server strings (a hostile team name, provider id and reason) in human output; --json stays exact", async () => {
    const HOSTILE = "\u001b[2J\u001b]8;;http://evil/\u0007link\u001b]8;;\u0007 \u009b31mred\u202eevil\u2066\r\nforged";
    // The API refuses such names now; rows written before that, or by other means, still hold them.
    const team = await server.seedTeam("Hostile team", 10_000_000n);
    await server.rt.db.update(organization).set({ name: HOSTILE }).where(eq(organization.id, team.teamId));
    const created = json(await cli(["create", "--profile", "burst-sandbox", "--ttl", "1m", "--wait", "--json"], { apiKey: team.apiKey }));
    expect((await cli(["destroy", created.id, "--wait"], { apiKey: team.apiKey })).code).toBe(ExitCode.OK);
    const ext = "ext.\u001b[31mred\u009b2J";
    await server.rt.db.update(sandboxes).set({ extensionId: ext, state: "failed", failureReason: `provider said: ${HOSTILE}` }).where(eq(sandboxes.id, created.id));

    const [whoami, whoamiJson, ls, lsJson, got, badId] = await Promise.all([
      cli(["whoami"], { apiKey: team.apiKey }),
      cli(["whoami", "--json"], { apiKey: team.apiKey }),
      cli(["ls"], { apiKey: team.apiKey }),
      cli(["ls", "--json"], { apiKey: team.apiKey }),
      cli(["get", created.id], { apiKey: team.apiKey }),
      cli(["get", "sbx_\u001b[2J\u009b"], { apiKey: team.apiKey }),
    ]);
    // eslint-disable-next-line no-control-regex -- what must not reach the terminal
    const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    for (const r of [whoami, ls, got, badId]) {
      expect(r.stdout).not.toMatch(CONTROLS);
      expect(r.stderr).not.toMatch(CONTROLS);
    }
    const shown = "\\x1b[2J\\x1b]8;;http://evil/\\x07link\\x1b]8;;\\x07 \\x9b31mred\\u202eevil\\u2066\\x0d\\x0aforged";
    expect(whoami.code).toBe(ExitCode.OK);
    expect(whoami.stdout).toContain(`│ team          │ ${shown}`);
    expect(ls.stdout).toContain("ext.\\x1b[31mred\\x9b2J");
    expect(got.stdout).toContain("ext.\\x1b[31mred\\x9b2J");
    // The CLI's own layout is kept: every line of each table is as wide as the others.
    for (const out of [whoami.stdout, ls.stdout]) {
      expect(new Set(out.split("\n").filter((l) => /^[┌│├└]/.test(l)).map((l) => [...l].length)).size).toBe(1);
    }
    expect(badId.code).not.toBe(ExitCode.OK);
    expect(badId.stderr).toMatch(/^error: /);
    // --json is the exact API result.
    expect(json(whoamiJson).teamName).toBe(HOSTILE);
    expect(json(lsJson).items[0]).toMatchObject({ id: created.id, extensionId: ext });
  });

  it("works from another working directory", async () => {
    const r = await cli(["whoami", "--json"], { cwd: os.tmpdir() });
    expect(r.code).toBe(ExitCode.OK);
    expect(json(r)).toMatchObject({ teamId: rich.teamId, role: "owner", via: "api_key", email: expect.stringMatching(/^cli-\d+-\d+@example\.test$/) });
    const table = await cli(["whoami"]);
    expect(table.stdout).toMatch(/user\s+│ cli-\d+-\d+@example\.test \(\w+\)/);
  });
});
