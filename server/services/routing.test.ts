import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../../adapters/saas-stub/stub-adapter";
import { sandboxes, usageRecords } from "../../db/schema";
import { startWorkers } from "../../jobs/worker";
import { configDirWith } from "../testing/fixtures";
import { createTestRuntime, openTestDb, seedTeam, TestClock, type TestRuntime } from "../testing/harness";
import { startOpenBaoFake } from "../testing/openbao-fake";
import { SETTLE_MS } from "./cooldown";
import { bindCredential, checkCredentials } from "./credentials";
import { CapacityWait, provisionSandbox, teardownSandbox } from "./lifecycle";
import { createSandbox, getSandbox, previewCreate } from "./sandboxes";
import { formatTime } from "../../lib/format";

const stubExt = (id: string, vcpu: string, gib: string, extra = "") => `id: ${id}
name: ${id}
adapter: saas-stub
pricing: { currency: USD, rate_card_version: ${id}-1, vcpu_second: "${vcpu}", gib_second: "${gib}" }
${extra}`;
const profile = (id: string, vcpu: number, mib: number, route: string[], strategy = "ordered") => `id: ${id}
name: ${id}
pricing_model: metered
resources: { vcpu: ${vcpu}, memory_mib: ${mib} }
template: base
ttl: { default_seconds: 60, max_seconds: 3600 }
strategy: ${strategy}
route: [${route.join(", ")}]
`;
const configDir = configDirWith({
  "extensions/alpha.yaml": stubExt("ext.alpha", "0.00002", "0.000001", `limits: { max_ttl_seconds: 3600, max_concurrent: 100, creates_per_second: 1000 }
credentials: { api_key: "env:ALPHA_KEY" }
settings: { required_credential: api_key }
`),
  "extensions/beta.yaml": stubExt("ext.beta", "0.000005", "0.00001", "limits: { max_ttl_seconds: 3600, max_concurrent: 100, creates_per_second: 1000 }\n"),
  "extensions/gamma.yaml": stubExt("ext.gamma", "0.00001", "0.00001", "limits: { max_ttl_seconds: 3600, max_concurrent: 1, creates_per_second: 1000 }\n"),
  "fallback.yaml": profile("profile.fallback", 2, 512, ["ext.alpha", "ext.beta", "ext.saas-stub"]),
  "cpu-heavy.yaml": profile("profile.cpu-heavy", 8, 256, ["ext.alpha", "ext.beta"], "cheapest"),
  "mem-heavy.yaml": profile("profile.mem-heavy", 1, 16384, ["ext.alpha", "ext.beta"], "cheapest"),
  "extensions/delta.yaml": stubExt("ext.delta", "0.00001", "0.00001", "limits: { max_ttl_seconds: 3600, max_concurrent: 100, creates_per_second: 1000 }\n"),
  "limited.yaml": profile("profile.limited", 1, 256, ["ext.gamma"]),
  "solo.yaml": profile("profile.solo", 1, 256, ["ext.delta"]),
});

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
const runtimes: TestRuntime[] = [];
async function runtime(processEnv: Record<string, string> = {}, clock?: TestClock) {
  const rt = await createTestRuntime(dbHandle, { configDir, clock, processEnv: { ALPHA_KEY: "", ...processEnv } });
  runtimes.push(rt);
  return rt;
}
beforeAll(async () => {
  dbHandle = await openTestDb();
});
afterAll(async () => {
  for (const rt of runtimes) await rt.cleanup();
  await dbHandle.drop();
});

const first = { attempt: 1, isLastAttempt: false };
const rowOf = async (rt: TestRuntime, id: string) => (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
async function provisionOnce(rt: TestRuntime, teamId: string, profileName: string) {
  const created = await createSandbox(rt, { teamId, userId: null }, { profile: profileName, ttlSeconds: 60 });
  await provisionSandbox(rt, created.id, first);
  return rowOf(rt, created.id);
}
const reasonOf = (row: Awaited<ReturnType<typeof rowOf>>, ext: string) => row.routing?.candidates.find((c) => c.extensionId === ext);

describe("fallback routing", () => {
  it("skips an extension whose credentials do not resolve, saying why", async () => {
    const rt = await runtime();
    const row = await provisionOnce(rt, await seedTeam(rt, 10_000_000n), "fallback");
    expect(row.extensionId).toBe("ext.beta");
    expect(reasonOf(row, "ext.alpha")).toMatchObject({ outcome: "skipped", reason: "credentials not available: credential api_key: env:ALPHA_KEY is not set" });
  });

  it("uses the first entry when its platform key resolves, and records the key's source", async () => {
    const rt = await runtime({ ALPHA_KEY: "alpha-platform-key" });
    const teamId = await seedTeam(rt, 10_000_000n);
    const row = await provisionOnce(rt, teamId, "fallback");
    expect(row.extensionId).toBe("ext.alpha");
    expect(row.credentialSource).toBe("platform");
    await rt.db.update(sandboxes).set({ destroyRequestedAt: new Date() }).where(eq(sandboxes.id, row.id));
    await teardownSandbox(rt, row.id, "requested");
    const [usage] = await rt.db.select().from(usageRecords).where(eq(usageRecords.sandboxId, row.id));
    expect(usage?.credentialSource).toBe("platform");
  });

  it("falls to the next entry on provider trouble, then cools the failing one down", async () => {
    const clock = new TestClock(new Date());
    const rt = await runtime({ ALPHA_KEY: "alpha-platform-key", SANDBOXER_COOLDOWN_FAILURES: "2" }, clock);
    const teamId = await seedTeam(rt, 10_000_000n);
    const alpha = stubControl(rt.redis, rt.keyPrefix, "ext.alpha");
    await alpha.inject("provision", { kind: "unavailable", status: 503, message: "down" }, { kind: "unavailable", status: 503, message: "down" });

    const firstRow = await provisionOnce(rt, teamId, "fallback");
    expect(firstRow.extensionId).toBe("ext.beta");
    expect(reasonOf(firstRow, "ext.alpha")).toMatchObject({ outcome: "failed", reason: "create failed: unavailable: down" });

    const secondRow = await provisionOnce(rt, teamId, "fallback");
    expect(secondRow.extensionId).toBe("ext.beta");

    // Two in a row, and no create succeeded on alpha within the settle time: it cools down.
    clock.advance(SETTLE_MS);
    const createsBefore = await alpha.createCount();
    const preview = await previewCreate(rt, teamId, "fallback", 60);
    expect(preview.chosenExtensionId).toBe("ext.beta");
    expect(preview.candidates.map((c) => c.reason)).toEqual([
      expect.stringMatching(/^cooling down until .* \(2 failures in a row, last: unavailable: down\)$/),
      "chosen: first eligible entry of the route not cooling down",
      "eligible",
    ]);
    const cooled = await provisionOnce(rt, teamId, "fallback");
    expect(cooled.extensionId).toBe("ext.beta");
    expect(reasonOf(cooled, "ext.alpha")?.reason).toMatch(/^cooling down until .* \(2 failures in a row, last: unavailable: down\)$/);
    expect(await alpha.createCount()).toBe(createsBefore);
  });
});

describe("cheapest strategy", () => {
  it("picks the cheaper eligible extension for the spec, and the other when the spec changes", async () => {
    const rt = await runtime({ ALPHA_KEY: "alpha-platform-key" });
    const teamId = await seedTeam(rt, 100_000_000n);
    const cpu = await previewCreate(rt, teamId, "cpu-heavy", 100);
    expect(cpu.chosenExtensionId).toBe("ext.beta");
    expect(cpu.candidates.map((c) => [c.extensionId, c.estimateMicros])).toEqual([
      ["ext.beta", "4250"],
      ["ext.alpha", "16025"],
    ]);
    const mem = await previewCreate(rt, teamId, "mem-heavy", 100);
    expect(mem.chosenExtensionId).toBe("ext.alpha");
    expect((await provisionOnce(rt, teamId, "cpu-heavy")).extensionId).toBe("ext.beta");
    expect((await provisionOnce(rt, teamId, "mem-heavy")).extensionId).toBe("ext.alpha");
  });
});

describe("per-extension limits", () => {
  it("makes a request past max_concurrent wait in the queue, then run when a slot frees", async () => {
    const rt = await runtime();
    const workers = await startWorkers(rt, { concurrency: 4, sweepEveryMs: 60_000 });
    try {
      const teamId = await seedTeam(rt, 10_000_000n);
      const a = await createSandbox(rt, { teamId, userId: null }, { profile: "limited", ttlSeconds: 60 });
      const waitFor = async (id: string, state: string) => {
        const deadline = Date.now() + 15_000;
        while ((await rowOf(rt, id)).state !== state) {
          if (Date.now() > deadline) throw new Error(`${id} never reached ${state}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await waitFor(a.id, "ready");
      const b = await createSandbox(rt, { teamId, userId: null }, { profile: "limited", ttlSeconds: 60 });
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await rowOf(rt, b.id)).state).toBe("requested");
      await rt.db.update(sandboxes).set({ destroyRequestedAt: new Date() }).where(eq(sandboxes.id, a.id));
      await rt.queue.enqueueTeardown(a.id, "requested");
      await waitFor(b.id, "ready");
    } finally {
      await workers.close();
    }
  });
});

describe("per-extension limits under concurrency", () => {
  it("admits exactly max_concurrent of many racing provisions, on both sides of the shared-lock margin", async () => {
    // Far from the limit admissions share the advisory lock and keep a margin of one per
    // database connection; near it they take the lock exclusively. Set the limit so both run.
    const conns = Number(((await dbHandle.db.execute(sql`select current_setting('max_connections')::int as c`)) as unknown as { rows: { c: number }[] }).rows[0]!.c);
    const limit = conns + 20;
    const dir = configDirWith({
      "extensions/epsilon.yaml": stubExt("ext.epsilon", "0.00001", "0.00001", `limits: { max_ttl_seconds: 3600, max_concurrent: ${limit}, creates_per_second: 100000 }\n`),
      "crowded.yaml": profile("profile.crowded", 1, 256, ["ext.epsilon"]),
    });
    const rt = await createTestRuntime(dbHandle, { configDir: dir });
    runtimes.push(rt);
    const teamId = await seedTeam(rt, 10n ** 12n);
    const ids: string[] = [];
    for (let i = 0; i < limit + 15; i++) ids.push((await createSandbox(rt, { teamId, userId: null }, { profile: "crowded", ttlSeconds: 60 })).id);
    const results = await Promise.allSettled(ids.map((id) => provisionSandbox(rt, id, first)));
    const waited = results.filter((r) => r.status === "rejected");
    expect(waited.every((r) => (r as PromiseRejectedResult).reason instanceof CapacityWait)).toBe(true);
    const live = await rt.db.select({ id: sandboxes.id }).from(sandboxes).where(and(eq(sandboxes.extensionId, "ext.epsilon"), inArray(sandboxes.state, ["provisioning", "ready", "destroying"])));
    expect(live.length).toBe(limit);
    expect(waited.length).toBe(15);
  });
});

describe("BYOK through OpenBao", () => {
  it("resolves a team's key from OpenBao, reports failures by reason, and picks up rotations", async () => {
    const bao = await startOpenBaoFake({ token: "root-token-1" });
    const tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bao-")), "token");
    fs.writeFileSync(tokenFile, "root-token-1\n");
    try {
      const rt = await runtime({ SANDBOXER_OPENBAO_ADDR: bao.url, SANDBOXER_OPENBAO_TOKEN_FILE: tokenFile });
      const teamId = await seedTeam(rt, 10_000_000n);
      const actor = { teamId, userId: "user_x" };
      bao.put(`secret/teams/${teamId}/alpha`, { api_key: "team-key-v1" });

      // Another team's path is refused at bind time, even though the platform token could read it.
      await expect(bindCredential(rt, actor, { extensionId: "ext.alpha", field: "api_key", secretRef: "openbao://secret/teams/team_other/alpha#api_key" })).rejects.toThrow(
        new RegExp(`team keys must live under openbao://secret/teams/${teamId}/`),
      );

      await expect(bindCredential(rt, actor, { extensionId: "ext.alpha", field: "api_key", secretRef: "env:DATABASE_URL" })).rejects.toThrow(/env references are not allowed/);
      await expect(bindCredential(rt, actor, { extensionId: "ext.alpha", field: "nope", secretRef: "openbao://secret/x#y" })).rejects.toThrow(/no credential field "nope"/);

      expect(await bindCredential(rt, actor, { extensionId: "ext.alpha", field: "api_key", secretRef: `openbao://secret/teams/${teamId}/alpha#api_key` })).toEqual({
        extensionId: "ext.alpha",
        source: "team",
        resolves: true,
        reason: null,
      });
      const row = await provisionOnce(rt, teamId, "fallback");
      expect(row.extensionId).toBe("ext.alpha");
      expect(row.credentialSource).toBe("team");
      const fingerprint = (v: string) => createHash("sha256").update(v).digest("hex").slice(0, 16);
      const alpha = stubControl(rt.redis, rt.keyPrefix, "ext.alpha");
      expect((await alpha.get(row.providerSandboxId!)).keyFingerprint).toBe(fingerprint("team-key-v1"));

      // The secret rotates in the store, and the store's token rotates: the next provision uses both.
      bao.put(`secret/teams/${teamId}/alpha`, { api_key: "team-key-v2" });
      bao.rotateToken("root-token-2");
      fs.writeFileSync(tokenFile, "root-token-2\n");
      const rotated = await provisionOnce(rt, teamId, "fallback");
      expect((await alpha.get(rotated.providerSandboxId!)).keyFingerprint).toBe(fingerprint("team-key-v2"));

      await bindCredential(rt, actor, { extensionId: "ext.alpha", field: "api_key", secretRef: `openbao://secret/teams/${teamId}/missing#api_key` });
      const wrongPath = await provisionOnce(rt, teamId, "fallback");
      expect(wrongPath.extensionId).toBe("ext.beta");
      expect(reasonOf(wrongPath, "ext.alpha")?.reason).toBe(`team credentials not available: credential api_key: openbao://secret/teams/${teamId}/missing#api_key: secret not found`);

      await bindCredential(rt, actor, { extensionId: "ext.alpha", field: "api_key", secretRef: `openbao://secret/teams/${teamId}/alpha#api_key` });
      await bao.close();
      const storeDown = await provisionOnce(rt, teamId, "fallback");
      expect(reasonOf(storeDown, "ext.alpha")?.reason).toMatch(/alpha#api_key: secret store unreachable$/);
      expect(await checkCredentials(rt, teamId, "ext.alpha")).toMatchObject({ resolves: false, source: "team" });
    } finally {
      await bao.close().catch(() => undefined);
    }
  });
});

describe("cool-downs never fail a request outright", () => {
  it("waits for the only provider to recover instead of refusing or failing, and says so in the route plan", async () => {
    // The cool-down is judged by the runtime's clock, so a slow machine cannot outlast it.
    const clock = new TestClock(new Date());
    const rt = await runtime({ SANDBOXER_COOLDOWN_FAILURES: "1", SANDBOXER_COOLDOWN_MS: "60000" }, clock);
    const teamId = await seedTeam(rt, 10_000_000n);
    const delta = stubControl(rt.redis, rt.keyPrefix, "ext.delta");
    await delta.inject("provision", { kind: "unavailable", status: 503, message: "blip" });
    const failedOnce = await createSandbox(rt, { teamId, userId: null }, { profile: "solo", ttlSeconds: 60 });
    const failedAt = clock.now().getTime();
    await expect(provisionSandbox(rt, failedOnce.id, first)).rejects.toMatchObject({ name: "RetryLaterError" });
    clock.advance(SETTLE_MS);

    // Cooling down now: admission still works, and provisioning waits rather than failing.
    const waiting = await createSandbox(rt, { teamId, userId: null }, { profile: "solo", ttlSeconds: 60 });
    const until = formatTime(new Date(failedAt + 60_000));
    const preview = await previewCreate(rt, teamId, "solo", 60);
    expect(preview.chosenExtensionId).toBe("ext.delta");
    expect(preview.candidates[0]?.reason).toBe(
      `chosen: first eligible entry of the route, but cooling down until ${until} (1 failure: unavailable: blip); requests wait in the queue and are tried from ${until}`,
    );
    await expect(provisionSandbox(rt, waiting.id, first)).rejects.toMatchObject({ name: "CapacityWait", delayMs: 60_000 - SETTLE_MS });
    expect((await rowOf(rt, waiting.id)).state).toBe("requested");
    // The sandbox's own timeline says why it waits, once however often the job rechecks.
    await expect(provisionSandbox(rt, waiting.id, first)).rejects.toMatchObject({ name: "CapacityWait" });
    const waits = (await getSandbox(rt, teamId, waiting.id)).events.filter((e) => e.kind === "waiting");
    expect(waits.map((e) => e.reason)).toEqual([`waiting: ext.delta cooling down until ${until} (1 failure: unavailable: blip)`]);
    clock.set(new Date(failedAt + 60_000));
    await provisionSandbox(rt, waiting.id, first);
    expect((await rowOf(rt, waiting.id)).state).toBe("ready");
  });

  it("cools down once for concurrent failures, escalates only when the create after it fails, and lets the waiting requests through when one succeeds", async () => {
    const clock = new TestClock(new Date());
    const rt = await runtime({ SANDBOXER_COOLDOWN_FAILURES: "3", SANDBOXER_COOLDOWN_MS: "30000" }, clock);
    const teamId = await seedTeam(rt, 100_000_000n);
    const delta = stubControl(rt.redis, rt.keyPrefix, "ext.delta");
    const down = { kind: "unavailable" as const, status: 503, message: "down" };
    const request = () => createSandbox(rt, { teamId, userId: null }, { profile: "solo", ttlSeconds: 60 });
    const provision = (id: string) => provisionSandbox(rt, id, first).then(() => "done", (err: Error) => err.name);

    // Eight creates in flight fail at the same moment: three trip it, the rest change nothing.
    await delta.inject("provision", ...Array.from({ length: 8 }, () => down));
    const burst = await Promise.all(Array.from({ length: 8 }, request));
    const t0 = clock.now().getTime();
    expect(await Promise.all(burst.map((s) => provision(s.id)))).toEqual(Array(8).fill("RetryLaterError"));
    clock.advance(SETTLE_MS);
    const plan = async () => (await previewCreate(rt, teamId, "solo", 60)).candidates[0]!.reason;
    expect(await plan()).toMatch(new RegExp(`cooling down until ${formatTime(new Date(t0 + 30_000))} \\(8 failures in a row`));
    expect(await Promise.all(burst.map((s) => provision(s.id)))).toEqual(Array(8).fill("CapacityWait"));

    // The cool-down ends: one create probes, the others wait for it; it fails, so the next one is twice as long.
    clock.set(new Date(t0 + 30_000));
    await delta.inject("provision", down);
    const results = [];
    for (const s of burst) results.push(await provision(s.id));
    expect(results).toEqual(["RetryLaterError", ...Array(7).fill("CapacityWait")]);
    const t1 = clock.now().getTime();
    expect(await plan()).toMatch(new RegExp(`cooling down until ${formatTime(new Date(t1 + 60_000))} \\(failed again after its cool-down ended \\(this one 60 s\\)`));

    // Then it recovers: the probe succeeds and every waiting request goes through.
    clock.set(new Date(t1 + 60_000));
    expect(await provision(burst[0]!.id)).toBe("done");
    expect(await plan()).toBe("chosen: first eligible entry of the route");
    expect(await Promise.all(burst.slice(1).map((s) => provision(s.id)))).toEqual(Array(7).fill("done"));
    const states = await rt.db.select({ state: sandboxes.state }).from(sandboxes).where(inArray(sandboxes.id, burst.map((s) => s.id)));
    expect(states.map((r) => r.state)).toEqual(Array(8).fill("ready"));
  });
});

describe("a lost create reply", () => {
  it("does not move on to the next entry in the same attempt, so it can never leave two sandboxes", async () => {
    const rt = await runtime({ ALPHA_KEY: "alpha-platform-key" });
    const teamId = await seedTeam(rt, 10_000_000n);
    const alpha = stubControl(rt.redis, rt.keyPrefix, "ext.alpha");
    const beta = stubControl(rt.redis, rt.keyPrefix, "ext.beta");
    await alpha.inject("provision", { kind: "timeout", message: "no answer" });
    const created = await createSandbox(rt, { teamId, userId: null }, { profile: "fallback", ttlSeconds: 60 });
    await expect(provisionSandbox(rt, created.id, first)).rejects.toMatchObject({ name: "RetryLaterError" });
    expect(await beta.createCount()).toBe(0);
    expect((await rowOf(rt, created.id)).extensionId).toBe("ext.alpha");
    await provisionSandbox(rt, created.id, { attempt: 2, isLastAttempt: false });
    const ready = await rowOf(rt, created.id);
    expect(ready).toMatchObject({ state: "ready", extensionId: "ext.alpha" });
    expect(await alpha.createCount()).toBe(1);
  });
});
