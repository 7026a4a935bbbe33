import net from "node:net";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError, systemClock, type AdapterContext, type SandboxSpec } from "../contract";
import { describeAdapterConformance } from "../conformance";
import { loadCatalog } from "../../server/catalog/load";
import { specOf } from "../../server/services/routing";
import { TestClock, logCapture } from "../../server/testing/harness";
import { createModalAdapter, MODAL_TAGS, modalSettingsFrom, toProviderError } from "./modal-adapter";
import { createModalFake } from "./fake/server";
import { GenericStatus } from "./fake/wire";

const TOKEN_ID = "ak-conformance0001";
const TOKEN_SECRET = "as-conformance-secret-0001";
const fake = createModalFake({ tokens: { [TOKEN_ID]: TOKEN_SECRET }, pageSize: 3 });
const url = await fake.listen();
afterAll(() => fake.close());

const logs = logCapture();
const settings = modalSettingsFrom({ app_name: "sandboxer-test" }, { SANDBOXER_MODAL_SERVER_URL: url });
const adapter = createModalAdapter({ extensionId: "ext.modal", settings, logger: logs.logger });
const ctx: AdapterContext = { logger: logs.logger, clock: systemClock, credentials: { token_id: TOKEN_ID, token_secret: TOKEN_SECRET } };

const catalog = loadCatalog(path.resolve("profiles"));
const modal = catalog.extensions.get("ext.modal")!;
const gpuProfile = catalog.profiles.get("profile.modal-gpu")!;
const cpuSpec: SandboxSpec = { template: "python:3.12-slim", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };
const gpuSpec = specOf(gpuProfile);

let n = 0;
const sandboxId = () => `sbx_modaltest${++n}${Math.random().toString(36).slice(2, 8)}`;
const provision = (opts: { id?: string; spec?: typeof cpuSpec; timeoutSeconds?: number; c?: AdapterContext } = {}) =>
  adapter.provision(opts.c ?? ctx, { sandboxId: opts.id ?? sandboxId(), teamId: "team_modal", spec: opts.spec ?? cpuSpec, timeoutSeconds: opts.timeoutSeconds ?? 120 });
const unknownId = "sb-AAAAAAAAAAAAAAAAAAAAAA";

describeAdapterConformance("modal (official SDK against the local gRPC fake)", async () => {
  fake.reset();
  fake.setPageSize(3);
  return { adapter, ctx, rates: modal.rates(null), spec: cpuSpec, unknownProviderId: unknownId, sandboxesForPaging: 7 };
});

describe("modal adapter through the SDK", () => {
  beforeEach(() => {
    fake.reset();
    fake.setPageSize(3);
  });

  it("creates a GPU sandbox with cores = vCPU / 2, limits equal to requests, the TTL as timeout and our tags", async () => {
    const id = sandboxId();
    // A new adapter: a new client, so the whole call sequence of a first create shows.
    const fresh = createModalAdapter({ extensionId: "ext.modal", settings, logger: logs.logger });
    const created = await fresh.provision(ctx, { sandboxId: id, teamId: "team_modal", spec: gpuSpec, timeoutSeconds: 660 });
    const sb = fake.sandbox(created.providerSandboxId)!;
    expect(sb).toMatchObject({
      milliCpu: 4000,
      milliCpuMax: 4000,
      memoryMb: 32768,
      memoryMbMax: 32768,
      gpuType: "A100-80GB",
      gpuCount: 1,
      timeoutSecs: 660,
      tags: { [MODAL_TAGS.managed]: "1", [MODAL_TAGS.sandboxId]: id, [MODAL_TAGS.teamId]: "team_modal", [MODAL_TAGS.timeoutS]: "660" },
    });
    expect(created.providerSandboxId).toMatch(/^sb-[A-Za-z0-9]{22}$/);
    expect(created.endsAt!.getTime() - created.startedAt.getTime()).toBe(660_000);
    // The lifecycle the issue names, in the order the SDK makes it (V1 backend pinned).
    for (const m of ["AuthTokenGet", "AppGetOrCreate", "EnvironmentGetOrCreate", "ImageGetOrCreate", "ImageJoinStreaming", "SandboxCreate"] as const) {
      expect(fake.calls(m), m).toBeGreaterThanOrEqual(1);
    }
    await fresh.waitReady(ctx, created.providerSandboxId, 5_000);
    expect(fake.calls("SandboxGetTaskId")).toBeGreaterThanOrEqual(1);
    expect((await fresh.teardown(ctx, created.providerSandboxId)).outcome).toBe("terminated");
  });

  it("caps the provider timeout at Modal's 24 h", async () => {
    const created = await provision({ timeoutSeconds: 86_400 + 60 });
    expect(fake.sandbox(created.providerSandboxId)!.timeoutSecs).toBe(86_400);
  });

  it("declares it cannot extend and has no extend call", () => {
    expect(adapter.canExtend).toBe(false);
    expect(adapter.extend).toBeUndefined();
    expect(modal.limits.can_extend).toBe(false);
  });

  it("lists the running sandboxes carrying our tag, every page", async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push((await provision()).providerSandboxId);
    const finished = await provision();
    await adapter.teardown(ctx, finished.providerSandboxId);
    const listed = await adapter.list(ctx);
    expect(listed.map((s) => s.providerSandboxId).sort()).toEqual([...mine].sort());
    expect(listed.every((s) => s.state === "running" && s.teamId === "team_modal")).toBe(true);
    // 5 running at 3 per page: SandboxList pages until an empty page.
    expect(fake.calls("SandboxList")).toBe(3);
  });

  it("fails the whole listing when a page fails", async () => {
    for (let i = 0; i < 5; i++) await provision();
    fake.inject({ kind: "unavailable", methods: ["SandboxList"] });
    await expect(adapter.list(ctx)).rejects.toMatchObject({ kind: "unavailable", retryable: true });
  });

  it("maps UNAUTHENTICATED to a non-retryable auth error whose message holds no credential", async () => {
    const bad = { ...ctx, credentials: { token_id: TOKEN_ID, token_secret: "as-wrong-secret-value" } };
    const err = await provision({ c: bad }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "auth", retryable: false, details: { providerCode: "UNAUTHENTICATED" } });
    for (const s of [TOKEN_ID, "as-wrong-secret-value", "x-modal-token", "x-modal-auth-token"]) expect(err.message).not.toContain(s);
    expect(fake.createCount()).toBe(0);
  });

  it("refuses without a token pair before any call", async () => {
    const err = await provision({ c: { ...ctx, credentials: { token_id: TOKEN_ID } } }).catch((e) => e);
    expect(err).toMatchObject({ kind: "auth", message: "modal: missing credential token_secret" });
    expect(fake.calls()).toBe(0);
  });

  it.each([
    ["a revoked token", { kind: "unauthenticated" as const }, { kind: "auth", retryable: false }],
    ["Modal being unavailable (past the SDK's 3 retries)", { kind: "unavailable" as const }, { kind: "unavailable", retryable: true }],
    ["no capacity for the GPU", { kind: "gpu_capacity" as const }, { kind: "capacity", retryable: true, details: { providerCode: "RESOURCE_EXHAUSTED" } }],
  ])("maps %s to the common provider error", async (_name, fault, expected) => {
    // A fresh credential pair: a fresh client, so the fault meets the whole call sequence.
    fake.setTokens({ [TOKEN_ID]: TOKEN_SECRET, "ak-fresh": `as-fresh-${n}` });
    const c = { ...ctx, credentials: { token_id: "ak-fresh", token_secret: `as-fresh-${n}` } };
    fake.inject(fault);
    const err = await provision({ c, spec: gpuSpec }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject(expected);
    expect(fake.createCount()).toBe(0);
    fake.setTokens({ [TOKEN_ID]: TOKEN_SECRET });
  });

  it("creates once when the create reply is lost and the SDK retries with its idempotency key", async () => {
    fake.inject({ kind: "unavailable", methods: ["SandboxCreate"], afterEffect: true, times: 1 });
    const created = await provision();
    expect(fake.createCount()).toBe(1);
    expect(fake.sandboxes()[0]!.id).toBe(created.providerSandboxId);
  });

  it("surfaces an unreachable server as retryable unavailable", async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const down = createModalAdapter({
      extensionId: "ext.modal",
      settings: modalSettingsFrom({}, { SANDBOXER_MODAL_SERVER_URL: `http://127.0.0.1:${port}` }),
      logger: logs.logger,
    });
    const err = await down.list(ctx).catch((e) => e);
    expect(err).toMatchObject({ kind: "unavailable", retryable: true, details: { providerCode: "UNAVAILABLE" } });
  });

  it("times out waiting for a slow start, and the sandbox is terminated", async () => {
    fake.inject({ kind: "slow_start", readyAfterMs: 60_000 });
    const created = await provision();
    const started = Date.now();
    const err = await adapter.waitReady(ctx, created.providerSandboxId, 600).catch((e) => e);
    expect(err).toMatchObject({ kind: "timeout", retryable: true });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(fake.sandbox(created.providerSandboxId)).toMatchObject({ state: "finished", result: { status: GenericStatus.TERMINATED } });
  });

  it("fails waitReady for a sandbox that finished before it was ready", async () => {
    fake.inject({ kind: "end_early", afterMs: 0, exitCode: 3, times: 1 });
    const created = await provision();
    await expect(adapter.waitReady(ctx, created.providerSandboxId, 2_000)).rejects.toMatchObject({ kind: "unavailable" });
  });

  it("rejects ids it never issues instead of sending them to Modal", async () => {
    await expect(adapter.teardown(ctx, "not-a-modal-id")).rejects.toMatchObject({ kind: "invalid", retryable: false });
    expect(fake.calls()).toBe(0);
  });

  it("reuses one client per credential pair and leaves process.env as it was", async () => {
    const before = { ...process.env };
    process.env.MODAL_SERVER_URL = "https://must-not-be-used.invalid:443";
    process.env.MODAL_TOKEN_ID = "ak-from-the-environment";
    try {
      const a = createModalAdapter({ extensionId: "ext.modal", settings: { ...settings, maxClients: 2 }, logger: logs.logger });
      fake.setTokens({ k1: "s1-secret", k2: "s2-secret", k3: "s3-secret" });
      const as = (k: string) => ({ ...ctx, credentials: { token_id: k, token_secret: `s${k.slice(1)}-secret` } });
      await a.list(as("k1"));
      await a.list(as("k1"));
      expect(a.clientCount()).toBe(1);
      expect(fake.calls("AuthTokenGet")).toBe(1); // the SDK's token cache is kept with the client
      await a.list(as("k2"));
      await a.list(as("k3"));
      expect(a.clientCount()).toBe(2); // least recently used evicted
      expect(process.env.MODAL_SERVER_URL).toBe("https://must-not-be-used.invalid:443");
      expect(process.env.MODAL_TOKEN_ID).toBe("ak-from-the-environment");
      expect(process.env.MODAL_SANDBOX_V2).toBe(before.MODAL_SANDBOX_V2);
    } finally {
      for (const k of ["MODAL_SERVER_URL", "MODAL_TOKEN_ID"]) {
        if (before[k] === undefined) delete process.env[k];
        else process.env[k] = before[k];
      }
      fake.setTokens({ [TOKEN_ID]: TOKEN_SECRET });
    }
  });

  it("never logs a credential", async () => {
    const created = await provision();
    await adapter.waitReady(ctx, created.providerSandboxId, 2_000);
    await adapter.teardown(ctx, created.providerSandboxId);
    await provision({ c: { ...ctx, credentials: { token_id: TOKEN_ID, token_secret: "as-leak-probe-1234" } } }).catch(() => {});
    const all = logs.lines.join("\n");
    for (const s of [TOKEN_SECRET, "as-leak-probe-1234"]) expect(all).not.toContain(s);
  });
});

describe("modal: a sandbox that ended on Modal's side", () => {
  const clock = new TestClock();
  const clockFake = createModalFake({ clock, tokens: { [TOKEN_ID]: TOKEN_SECRET } });
  let a: ReturnType<typeof createModalAdapter>;
  const c = { ...ctx, clock };
  afterAll(() => clockFake.close());

  it("is already gone, ended when Modal's own timeout hit (exit 124)", async () => {
    const u = await clockFake.listen();
    a = createModalAdapter({ extensionId: "ext.modal", settings: modalSettingsFrom({}, { SANDBOXER_MODAL_SERVER_URL: u }), logger: logs.logger });
    const created = await a.provision(c, { sandboxId: sandboxId(), teamId: "t", spec: cpuSpec, timeoutSeconds: 120 });
    const createdAt = clockFake.sandbox(created.providerSandboxId)!.createdAtMs;
    clock.advance(600_000);
    expect(clockFake.sandbox(created.providerSandboxId)!.result).toMatchObject({ status: GenericStatus.TIMEOUT });
    const res = await a.teardown(c, created.providerSandboxId);
    expect(res).toEqual({ outcome: "already_gone", endedAt: new Date(createdAt + 120_000) });
  });

  it("is already gone, ended when it exited early", async () => {
    const created = await a.provision(c, { sandboxId: sandboxId(), teamId: "t", spec: cpuSpec, timeoutSeconds: 120 });
    const endAt = clock.now().getTime() + 30_000;
    clockFake.endSandbox(created.providerSandboxId, { atMs: endAt, status: GenericStatus.FAILURE, exitcode: 1 });
    clock.advance(45_000);
    expect(await a.list(c, {})).toEqual([]);
    expect(await a.teardown(c, created.providerSandboxId)).toEqual({ outcome: "already_gone", endedAt: new Date(endAt) });
  });

  it("reports a sandbox Modal no longer knows as already gone with no end time", async () => {
    expect(await a.teardown(c, unknownId)).toEqual({ outcome: "already_gone", endedAt: null });
  });
});

describe("modal pricing", () => {
  // Straight from profiles/extensions/modal.yaml and profiles/modal-gpu.yaml, by hand:
  //   8 vCPU × $0.00000655 + 32 GiB × $0.00000222 + 1 A100-80GB × $0.000694
  //   = $0.0000524 + $0.00007104 + $0.000694 = $0.00081744 per second.
  it("estimates and meters the GPU profile at the manifest's rates to the micro-dollar", () => {
    const rates = modal.rates(gpuSpec.gpuType);
    expect(gpuSpec).toEqual({ template: "python:3.12-slim", vcpuMilli: 8000, memoryMiB: 32768, gpuCount: 1, gpuType: "A100-80GB" });
    expect(adapter.estimateCost(gpuSpec, rates, 600)).toBe(490_464n); // 600 s × 817.44 µ$
    expect(adapter.estimateCost(gpuSpec, rates, 3600)).toBe(2_942_784n);
    const start = new Date("2026-12-01T00:00:00Z");
    const at = (ms: number) => adapter.meterActual({ spec: gpuSpec, rates, startedAt: start, endedAt: new Date(start.getTime() + ms) });
    expect(at(600_000)).toEqual({ durationMs: 600_000, costMicros: 490_464n });
    expect(at(1_000).costMicros).toBe(817n); // 817.44 → 817
    expect(at(1_500).costMicros).toBe(1_226n); // 1226.16 → 1226
    expect(at(61_000).costMicros).toBe(49_864n); // 49863.84 → 49864
  });

  it("prices an H100 at its own rate", () => {
    const spec = { ...gpuSpec, gpuType: "H100", gpuCount: 2 };
    // 8 × 6.55 + 32 × 2.22 + 2 × 1097 = 52.4 + 71.04 + 2194 = 2317.44 µ$/s
    expect(adapter.estimateCost(spec, modal.rates("H100"), 100)).toBe(231_744n);
  });
});

describe("modal settings", () => {
  it("takes the server URL from SANDBOXER_MODAL_SERVER_URL over the manifest, naming both on error", () => {
    expect(modalSettingsFrom({ server_url: "https://api.modal.com:443" }, {}).serverUrl).toBe("https://api.modal.com:443");
    expect(modalSettingsFrom({ server_url: "https://api.modal.com:443" }, { SANDBOXER_MODAL_SERVER_URL: "http://127.0.0.1:9999" }).serverUrl).toBe("http://127.0.0.1:9999");
    expect(() => modalSettingsFrom({}, { SANDBOXER_MODAL_SERVER_URL: "nope" })).toThrow(/SANDBOXER_MODAL_SERVER_URL \/ settings.server_url: not a URL/);
    expect(() => modalSettingsFrom({}, { SANDBOXER_MODAL_SERVER_URL: "http://modal.example.com:80" })).toThrow(/only allowed for a loopback fake/);
    expect(() => modalSettingsFrom({}, { SANDBOXER_MODAL_SERVER_URL: "https://api.modal.com/v1" })).toThrow(/no path/);
    expect(() => modalSettingsFrom({ app_name: "bad name" }, {})).toThrow(/SANDBOXER_MODAL_APP_NAME \/ settings.app_name: must be/);
    expect(modalSettingsFrom({ app_name: "a", environment: "dev" }, { SANDBOXER_MODAL_APP_NAME: "b", SANDBOXER_MODAL_ENVIRONMENT: "prod" })).toMatchObject({ appName: "b", environment: "prod" });
    expect(() => modalSettingsFrom({}, { SANDBOXER_MODAL_MAX_THROTTLE_WAIT_S: "-1" })).toThrow(/SANDBOXER_MODAL_MAX_THROTTLE_WAIT_S \/ settings.max_throttle_wait_s/);
    expect(modalSettingsFrom({ "template.base": "python:3.12-slim" }, {}).templateImages).toEqual({ base: "python:3.12-slim" });
    expect(() => modalSettingsFrom({ "template.base": "python 3" }, {})).toThrow(/settings.template.base: must be a container image reference/);
  });

  it("maps SDK errors without their metadata", () => {
    const grpc = Object.assign(new Error("/modal.client.ModalClient/SandboxCreate RESOURCE_EXHAUSTED: no H100"), { name: "ClientError", code: 8, details: "no H100" });
    expect(toProviderError(grpc, "create")).toMatchObject({ kind: "capacity", message: "modal create: RESOURCE_EXHAUSTED: no H100" });
    const echoed = Object.assign(new Error("x"), { name: "ClientError", code: 16, details: "bad token as-secret-echo" });
    expect(toProviderError(echoed, "list", { token_secret: "as-secret-echo" }).message).toBe("modal list: UNAUTHENTICATED: bad token [redacted]");
  });
});
