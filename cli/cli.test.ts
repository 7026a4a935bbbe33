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
import { sandboxes } from "../db/schema";
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
function cli(args: string[], opts: { apiKey?: string | null; url?: string; cwd?: string } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, HOME: configHome, NO_COLOR: "1" };
  delete env.SANDBOXER_API_KEY;
  delete env.SANDBOXER_URL;
  env.SANDBOXER_URL = opts.url ?? server.url;
  const key = opts.apiKey === undefined ? rich.apiKey : opts.apiKey;
  if (key) env.SANDBOXER_API_KEY = key;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
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

  it("works from another working directory", async () => {
    const r = await cli(["whoami", "--json"], { cwd: os.tmpdir() });
    expect(r.code).toBe(ExitCode.OK);
    expect(json(r)).toMatchObject({ teamId: rich.teamId, role: "owner", via: "api_key", email: expect.stringMatching(/^cli-\d+-\d+@example\.test$/) });
    const table = await cli(["whoami"]);
    expect(table.stdout).toMatch(/user\s+│ cli-\d+-\d+@example\.test \(\w+\)/);
  });
});
