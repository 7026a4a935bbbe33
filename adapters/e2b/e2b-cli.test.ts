/**
 * `sandboxer create --profile e2b-burst` end to end: the real CLI (a child process) against a real
 * HTTP API and BullMQ worker whose ext.e2b points at the local E2B fake. CI runs this; it never
 * reaches the live E2B API.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../cli/test-server";
import { SANDBOX_ID_KEY } from "./e2b-adapter";
import { startE2bFake, type E2bFake } from "./fake/e2b-fake";

const BIN = fileURLToPath(new URL("../../bin/sandboxer.mjs", import.meta.url));
const ROOT = path.dirname(path.dirname(BIN));
const KEY = "e2b_c11c11c11c11c11c11c11c11c11c11c1";

let fake: E2bFake;
let server: TestServer;
let configHome: string;
let apiKey: string;

type Result = { code: number | null; stdout: string; stderr: string };
function cli(args: string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, HOME: configHome, NO_COLOR: "1", SANDBOXER_URL: server.url, SANDBOXER_API_KEY: apiKey };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
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
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
};

beforeAll(async () => {
  configHome = fs.mkdtempSync(path.join(os.tmpdir(), "sandboxer-e2b-cli-"));
  fake = await startE2bFake();
  server = await startTestServer({ processEnv: { E2B_API_KEY: KEY, SANDBOXER_E2B_API_URL: fake.url, SANDBOXER_E2B_READY_POLL_MS: "50" } });
  ({ apiKey } = await server.seedTeam("E2B team", 100_000_000n));
}, 180_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
  if (configHome) fs.rmSync(configHome, { recursive: true, force: true });
});

describe("sandboxer CLI on ext.e2b (against the E2B fake)", { timeout: 90_000 }, () => {
  it("create --profile e2b-burst --wait, extend, destroy --wait", async () => {
    const created = await cli(["create", "--profile", "e2b-burst", "--ttl", "2m", "--wait", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const s = json(created);
    expect(s).toMatchObject({ state: "ready", extensionId: "ext.e2b", profileId: "profile.e2b-burst", ttlSeconds: 120 });
    const onProvider = () => fake.sandboxesTagged(SANDBOX_ID_KEY, s.id);
    expect(onProvider().map((x) => x.sandboxID)).toEqual([s.providerSandboxId]);

    const extended = await cli(["extend", s.id, "--by", "1m"]);
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stdout).toMatch(/TTL now 3m/);
    expect(onProvider()[0]!.endAt - onProvider()[0]!.startedAt).toBeGreaterThanOrEqual(180_000);

    const destroyed = await cli(["destroy", s.id, "--wait"]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toMatch(new RegExp(`${s.id} destroyed after running .*; final cost \\$0\\.\\d{6}`));
    expect(onProvider().map((x) => x.endReason)).toEqual(["killed"]);
  });

  it("a TTL runs out: the worker tears the E2B sandbox down and bills the TTL", async () => {
    const created = json(await cli(["create", "--profile", "e2b-burst", "--ttl", "2s", "--wait", "--json"]));
    expect(created.state).toBe("ready");
    const deadline = Date.now() + 30_000;
    let got: any;
    do {
      await new Promise((r) => setTimeout(r, 250));
      got = json(await cli(["get", created.id, "--json"]));
    } while (got.state !== "destroyed" && Date.now() < deadline);
    expect(got.state).toBe("destroyed");
    expect(new Date(got.endedAt).getTime() - new Date(got.startedAt).getTime()).toBe(2000);
    // 2 s of 2 vCPU × $0.000014 + 0.5 GiB × $0.0000045 = $0.0000605 → 60.5 µ$ → 61 µ$ (half-up, once)
    expect(got.costMicros).toBe("61");
    expect(fake.sandboxesTagged(SANDBOX_ID_KEY, created.id).map((x) => x.endReason)).toEqual(["killed"]);
  });
});
