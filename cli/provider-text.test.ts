/**
 * Provider error text as the CLI shows it, end to end: the real CLI (a child process) against a
 * real API and worker whose ext.e2b points at the local E2B fake, with faults injected. The E2B
 * adapter and SDK used to layer their messages (`HTTP 409: 409: …`, `Rate limit exceeded, please try
 * again later - Rate limit exceeded`); the adapter now says each thing once, and human output also
 * collapses such repeats in text stored before (or from other providers), --json keeps the text
 * exactly as stored.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startE2bFake, type E2bFake } from "../adapters/e2b/fake/e2b-fake";
import { ExitCode } from "./errors";
import { startTestServer, type TestServer } from "./test-server";

const BIN = fileURLToPath(new URL("../bin/sandboxer.mjs", import.meta.url));
const KEY = "e2b_c11c11c11c11c11c11c11c11c11c11c1";

let fake: E2bFake;
let server: TestServer;
let home: string;
let apiKey: string;

type Result = { code: number | null; stdout: string; stderr: string };
function cli(args: string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: home, HOME: home, NO_COLOR: "1", SANDBOXER_URL: server.url, SANDBOXER_API_KEY: apiKey };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "sandboxer-provider-text-"));
  fake = await startE2bFake();
  server = await startTestServer({ processEnv: { E2B_API_KEY: KEY, SANDBOXER_E2B_API_URL: fake.url, SANDBOXER_E2B_READY_POLL_MS: "50" } });
  ({ apiKey } = await server.seedTeam("Provider text team", 100_000_000n));
}, 180_000);

afterAll(async () => {
  await server?.close();
  await fake?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe("provider error text in human output", { timeout: 90_000 }, () => {
  it("a 409 from E2B's kill reads `HTTP 409: sandbox is busy`, not `HTTP 409: 409: …`", async () => {
    const created = await cli(["create", "--profile", "e2b-burst", "--ttl", "2m", "--wait", "--json"]);
    expect(created.code, created.stderr).toBe(ExitCode.OK);
    const id = JSON.parse(created.stdout).id as string;
    fake.inject({ op: "kill", status: 409, times: 2 });

    const destroyed = await cli(["destroy", id, "--wait"]);
    expect(destroyed.code, destroyed.stderr).toBe(ExitCode.OK);
    expect(destroyed.stderr).toContain("E2B kill: HTTP 409: sandbox is busy");
    expect(destroyed.stderr).not.toContain("409: 409");

    const raw = await cli(["get", id, "--json"]);
    // The adapter says it once at the source too (adapters/e2b tidySdkMessage), so the API agrees.
    expect(raw.stdout).toContain("HTTP 409: sandbox is busy");
    expect(raw.stdout).not.toContain("409: 409");
    const human = await cli(["get", id]);
    expect(human.stdout).toContain("E2B kill: HTTP 409: sandbox is busy");
    expect(human.stdout).not.toContain("409: 409");
  });

  it("destroy --wait stops as soon as the teardown needs a person (a rejected key) and says so, exit 8, instead of waiting out --timeout", async () => {
    const created = await cli(["create", "--profile", "e2b-burst", "--ttl", "2m", "--wait", "--json"]);
    expect(created.code, created.stderr).toBe(ExitCode.OK);
    const id = JSON.parse(created.stdout).id as string;
    fake.inject({ op: "kill", status: 401, times: 1_000 });
    try {
      const started = Date.now();
      const r = await cli(["destroy", id, "--wait", "--timeout", "1m"]);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(r.code, r.stderr).toBe(ExitCode.SANDBOX_FAILED);
      expect(r.stderr).toContain("attention");
      expect(r.stderr).toMatch(
        new RegExp(`^error: ${id} is still destroying and needs a person — teardown stopped: auth: E2B kill: HTTP 401: .*; fix the cause, then have an operator re-run its teardown`, "m"),
      );
      expect(r.stderr).not.toContain("gave up waiting");
      const asJson = await cli(["destroy", id, "--wait", "--json"]);
      expect(asJson.code).toBe(ExitCode.SANDBOX_FAILED);
      expect(JSON.parse(asJson.stdout)).toMatchObject({ id, state: "destroying", attentionReason: expect.stringContaining("HTTP 401") });
      // ls and get mark it, so a list shows which sandboxes wait for a person.
      const listed = await cli(["ls"]);
      expect(listed.stdout).toMatch(new RegExp(`${id}\\s*│?\\s*destroying \\(needs attention\\)`));
      expect((await cli(["get", id])).stdout).toMatch(/destroying \(needs attention\)/);
    } finally {
      fake.clearFaults();
    }
  });

  it("extend says when E2B granted less than asked (its plan's maximum), and the hold follows the TTL granted", async () => {
    fake.configure({ planMaxSeconds: 240 }); // E2B life 240 s: our TTL at most 180 s (60 s grace)
    try {
      const created = await cli(["create", "--profile", "e2b-burst", "--ttl", "2m", "--wait", "--json"]);
      expect(created.code, created.stderr).toBe(ExitCode.OK);
      const id = JSON.parse(created.stdout).id as string;
      const r = await cli(["extend", id, "--by", "5m"]);
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      expect(r.stdout).toMatch(new RegExp(`^extended ${id} by 1m of the 5m asked \\(ext\\.e2b granted no more\\): TTL now 3m, expires `));
      const after = JSON.parse((await cli(["get", id, "--json"])).stdout);
      expect(after.ttlSeconds).toBe(180);
      expect(after.holdMicros).toBe(after.estimateMicros);
      expect((await cli(["destroy", id])).code).toBe(ExitCode.OK);
    } finally {
      fake.configure({ planMaxSeconds: 86_400 });
    }
  });

  it("a 429 on create reads `Rate limit exceeded, please try again later` once, in the error, the failure and the routing", async () => {
    fake.inject({ op: "create", status: 429, message: "Rate limit exceeded", times: 50 });
    const r = await cli(["create", "--profile", "e2b-burst", "--ttl", "2m", "--wait", "--timeout", "60s"]);
    expect(r.code, r.stderr).toBe(ExitCode.SANDBOX_FAILED);
    expect(r.stderr).toMatch(/^error: sandbox sbx_\w+ failed: no provider could create the sandbox \(ext\.e2b: .*E2B create: HTTP 429: Rate limit exceeded, please try again later\)$/m);
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(" - Rate limit exceeded");
    // The failure is said once: the state row is just "failed", the reason has its own row.
    expect(r.stdout).toMatch(/│ state\s+│ failed\s+│/);
    expect(r.stdout).toMatch(/│ failure\s+│ no provider could create the sandbox/);
    expect(r.stdout.match(/no provider could create the sandbox/g)).toHaveLength(1);

    const id = /sbx_\w+/.exec(r.stderr)![0];
    const raw = await cli(["get", id, "--json"]);
    expect(JSON.parse(raw.stdout).failureReason).toContain("Rate limit exceeded, please try again later");
    expect(JSON.parse(raw.stdout).failureReason).not.toContain(" - Rate limit exceeded");
    const human = await cli(["get", id]);
    expect(human.stdout).toMatch(/│ state\s+│ failed\s+│/);
    expect(human.stdout).not.toContain(" - Rate limit exceeded");
    expect(human.stdout).toContain("HTTP 429: Rate limit exceeded, please try again later");
  });
});
