/**
 * `sandboxer reconciler findings` (a child process) against a real API server: a real reconciler
 * pass kills an orphan tagged with the team, and the CLI lists it — only the caller's team's
 * findings, admins only.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcilerFindings } from "../db/schema";
import { newId } from "../server/ids";
import { reconcileExtension } from "../server/services/reconcile";
import { createApiKey, createUser, setMembership } from "../server/services/teams";
import { ExitCode } from "./errors";
import { startTestServer, type TestServer } from "./test-server";

const BIN = fileURLToPath(new URL("../bin/sandboxer.mjs", import.meta.url));
let server: TestServer;
let home: string;
let a: { teamId: string; apiKey: string };
let b: { teamId: string; apiKey: string };
let memberKey: string;
let orphanPid: string;

function cli(args: string[], apiKey: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
  home = fs.mkdtempSync(path.join(os.tmpdir(), "sandboxer-reconciler-cli-"));
  server = await startTestServer();
  a = await server.seedTeam("Team A", 10_000_000n);
  b = await server.seedTeam("Team B", 10_000_000n);
  const rt = server.rt;
  const memberId = await createUser(rt, { email: `member-${Date.now()}@a.test`, password: "correct-horse-battery", name: "Member" });
  await setMembership(rt, { teamId: a.teamId, userId: memberId, role: "member" });
  memberKey = (await createApiKey(rt, { userId: memberId, teamId: a.teamId, name: "member" })).key;

  // A provider sandbox tagged with team A but no ledger row: the reconciler kills it.
  const adapter = rt.adapters.get("ext.saas-stub")!;
  const ctx = { logger: rt.logger, clock: rt.clock, credentials: {} };
  const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };
  orphanPid = (await adapter.provision(ctx, { sandboxId: "sbx_clistray1", teamId: a.teamId, spec, timeoutSeconds: 600 })).providerSandboxId;
  const report = await reconcileExtension(rt, "ext.saas-stub");
  expect(report.orphansKilled).toBeGreaterThanOrEqual(1);
  // One finding of each other sort: team A's lost sandbox, team B's orphan, a platform-level failed listing.
  await rt.db.insert(reconcilerFindings).values([
    { id: newId("fnd"), extensionId: "ext.saas-stub", kind: "lost", teamId: a.teamId, sandboxId: "sbx_clilost1", providerSandboxId: "stub-lost1", action: "marked lost; billed to when it was last seen running", at: new Date() },
    { id: newId("fnd"), extensionId: "ext.saas-stub", kind: "orphan", teamId: b.teamId, sandboxId: "sbx_clibeeee", providerSandboxId: "stub-b1", observedRunMs: 5_000, action: "killed", at: new Date() },
    { id: newId("fnd"), extensionId: "ext.saas-stub", kind: "listing_failed", action: "pass aborted; nothing killed or marked lost", detail: "unavailable", at: new Date() },
  ]);
}, 180_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("sandboxer reconciler findings", () => {
  it("lists the caller's team's findings as JSON, newest first", async () => {
    const r = await cli(["reconciler", "findings", "--json"], a.apiKey);
    expect(r.code, r.stderr).toBe(0);
    const page = JSON.parse(r.stdout) as { items: { kind: string; teamId?: string; providerSandboxId: string | null; action: string; observedRunMs: number | null }[]; summary: Record<string, unknown> };
    expect(page.items.map((f) => f.kind)).toEqual(["lost", "orphan"]);
    expect(page.items[1]).toMatchObject({ providerSandboxId: orphanPid, action: "killed" });
    expect(page.items[1]!.observedRunMs).toBeGreaterThanOrEqual(0);
    expect(page.summary).toMatchObject({ orphan: 1, lost: 1, listing_failed: 0 });
    expect(r.stdout).not.toContain("stub-b1");
  });

  it("shows a summary and a table for people, and filters by kind", async () => {
    const r = await cli(["reconciler", "findings"], a.apiKey);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Reconciler: 1 orphan killed, 1 sandbox marked lost; last finding/);
    expect(r.stdout).toContain(orphanPid);
    expect(r.stdout).toContain("no ledger row");
    const lost = await cli(["reconciler", "findings", "--kind", "lost", "--json"], a.apiKey);
    expect((JSON.parse(lost.stdout) as { items: { kind: string }[] }).items.map((f) => f.kind)).toEqual(["lost"]);
    const bad = await cli(["reconciler", "findings", "--kind", "weird"], a.apiKey);
    expect(bad.code).toBe(ExitCode.USAGE);
  });

  it("refuses a member: findings are for admins", async () => {
    const r = await cli(["reconciler", "findings"], memberKey);
    expect(r.code).toBe(ExitCode.AUTH);
    expect(r.stderr).toMatch(/member role cannot administer the team/);
  });
});
