import { Sandbox } from "e2b";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError, systemClock, type AdapterContext } from "../contract";
import { describeAdapterConformance } from "../conformance";
import { createLogger } from "../../server/logger";
import { parseRatePico } from "../../server/money";
import { createE2bAdapter, e2bSettingsFrom, SANDBOX_ID_KEY, TAG_KEY, TEAM_ID_KEY, tidySdkMessage } from "./e2b-adapter";
import { startE2bFake } from "./fake/e2b-fake";

const KEY = "e2b_0123456789abcdef0123456789abcdef";
const fake = await startE2bFake({ config: { pageSize: 3 } });
afterAll(() => fake.close());

const ctx: AdapterContext = { logger: createLogger({ level: "silent" }), clock: systemClock, credentials: { api_key: KEY } };
const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };
const rates = { vcpuSecondPico: parseRatePico("0.000014"), gibSecondPico: parseRatePico("0.0000045"), gpuSecondPico: 0n };
const settings = { apiUrl: fake.url, requestTimeoutMs: 2_000, createTimeoutMs: 1_000, pageSize: 100, readyPollMs: 20 };
const adapter = createE2bAdapter({ extensionId: "ext.e2b", ...settings });
let n = 0;
const sandboxId = () => `sbx_e2btest${++n}${Math.random().toString(36).slice(2, 8)}`;
const provision = (id = sandboxId(), timeoutSeconds = 120) => adapter.provision(ctx, { sandboxId: id, teamId: "team_e2b", spec, timeoutSeconds });

describeAdapterConformance("e2b (SDK against the local E2B fake)", async () => {
  fake.reset();
  fake.configure({ pageSize: 3 });
  return { adapter, ctx, rates, spec, unknownProviderId: "i0000000000000000000", sandboxesForPaging: 7 };
});

describe("e2b adapter through the SDK", () => {
  beforeEach(() => fake.reset());

  it("creates with one POST /v2/sandboxes: template, TTL as timeout seconds, our tags as metadata", async () => {
    const id = sandboxId();
    const created = await provision(id, 360);
    const creates = fake.creates();
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({
      path: "/v2/sandboxes",
      status: 201,
      templateID: "base",
      timeout: 360,
      metadata: { [TAG_KEY]: "1", [SANDBOX_ID_KEY]: id, [TEAM_ID_KEY]: "team_e2b", sandboxer_spec: "vcpu_milli=2000,memory_mib=512" },
    });
    expect(fake.requests().map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v2/sandboxes"]);
    expect(created.endsAt!.getTime() - created.startedAt.getTime()).toBe(360_000);
  });

  it("lists every page, only Sandboxer's sandboxes, only the caller's key", async () => {
    fake.configure({ pageSize: 4 });
    const ours = [];
    for (let i = 0; i < 13; i++) ours.push((await provision()).providerSandboxId);
    // Not ours: no tag, or another E2B team's key.
    await Sandbox.create("base", { apiKey: KEY, apiUrl: fake.url, debug: false, metadata: { app: "other" } } as Parameters<typeof Sandbox.create>[1]);
    await adapter.provision({ ...ctx, credentials: { api_key: "e2b_ffff" } }, { sandboxId: sandboxId(), teamId: "t", spec, timeoutSeconds: 60 });
    const listed = await adapter.list(ctx);
    expect(listed.map((s) => s.providerSandboxId).sort()).toEqual([...ours].sort());
    expect(fake.requests().filter((r) => r.path === "/v2/sandboxes" && r.method === "GET")).toHaveLength(4);
  });

  it("fails the whole listing when any page fails", async () => {
    fake.configure({ pageSize: 2 });
    for (let i = 0; i < 5; i++) await provision();
    fake.inject({ op: "list", status: 503, skip: 1 });
    await expect(adapter.list(ctx)).rejects.toMatchObject({ kind: "capacity", retryable: true, details: { status: 503 } });
  });

  it("finds one sandbox by its Sandboxer id", async () => {
    const id = sandboxId();
    const created = await provision(id);
    await provision();
    expect((await adapter.list(ctx, { sandboxId: id })).map((s) => [s.providerSandboxId, s.sandboxId, s.teamId])).toEqual([
      [created.providerSandboxId, id, "team_e2b"],
    ]);
  });

  it.each([
    [{ status: 401 }, { kind: "auth", retryable: false, details: { status: 401, providerCode: "http_401" } }],
    [{ status: 400, message: "timeout cannot be greater than 24 hours" }, { kind: "invalid", retryable: false }],
    [{ status: 409 }, { kind: "conflict", retryable: true }],
    [{ status: 429, retryAfterSeconds: 7 }, { kind: "rate_limited", retryable: true, details: { status: 429, retryAfterMs: 7000 } }],
    [{ status: 500 }, { kind: "unavailable", retryable: true, details: { status: 500 } }],
    [
      { status: 503, errorCode: "sandbox_capacity_unavailable" },
      { kind: "capacity", retryable: true, details: { status: 503, providerCode: "sandbox_capacity_unavailable" } },
    ],
    [{ status: 504 }, { kind: "timeout", retryable: true, details: { status: 504 } }],
  ])("maps a create answered %j to %j, in exactly one HTTP request", async (fault, expected) => {
    fake.inject({ op: "create", ...fault });
    const err = await provision().catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject(expected);
    expect(fake.requests()).toHaveLength(1);
  });

  it("says each part of a provider's error once", async () => {
    const pid = (await provision()).providerSandboxId;
    fake.inject({ op: "kill", status: 409, sandboxId: pid });
    const busy = await adapter.teardown(ctx, pid).then(() => new Error("teardown succeeded"), (e: Error) => e);
    fake.inject({ op: "create", status: 429, retryAfterSeconds: 2 });
    const throttled = await provision().then(() => new Error("create succeeded"), (e: Error) => e);
    for (const err of [busy, throttled] as Error[]) {
      expect(err.message).not.toMatch(/HTTP (\d{3}).*: \1:/);
      expect(err.message).not.toMatch(/(.{12,}) - \1/i);
    }
    expect(busy.message).toMatch(/^E2B kill: HTTP 409: \S/);
    expect(tidySdkMessage("409: sandbox is busy", 409)).toBe("sandbox is busy");
    expect(tidySdkMessage("Rate limit exceeded, please try again later - Rate limit exceeded", 429)).toBe("Rate limit exceeded, please try again later");
    expect(tidySdkMessage("bad template - missing field x", 400)).toBe("bad template - missing field x");
  });

  it("does not let the SDK retry a 429 with Retry-After on its own", async () => {
    fake.inject({ op: "create", status: 429, retryAfterSeconds: 1, times: 5 });
    const started = Date.now();
    await expect(provision()).rejects.toMatchObject({ kind: "rate_limited", details: { retryAfterMs: 1000 } });
    expect(Date.now() - started).toBeLessThan(900);
    expect(fake.creates()).toHaveLength(1);
  });

  it("reports the concurrency cap as capacity, without a Retry-After", async () => {
    fake.configure({ maxConcurrent: 2 });
    await provision();
    await provision();
    const err = await provision().catch((e) => e);
    expect(err).toMatchObject({ kind: "capacity", retryable: true, details: { status: 429 } });
    expect(err.details.retryAfterMs).toBeUndefined();
  });

  it("treats a create with no answer in time as a timeout, and the sandbox it made is findable", async () => {
    const id = sandboxId();
    fake.inject({ op: "create", slowCreate: { createAfterMs: 0, replyAfterMs: 3_000 } });
    const started = Date.now();
    const err = await provision(id).catch((e) => e);
    expect(err).toMatchObject({ kind: "timeout", retryable: true });
    expect(err.message).toMatch(/may exist/);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect((await adapter.list(ctx, { sandboxId: id })).length).toBe(1);
  });

  it("reports an unreachable API as unavailable (the request was never sent)", async () => {
    const closed = await startE2bFake();
    await closed.close(); // nothing listens on its port any more
    const down = createE2bAdapter({ extensionId: "ext.e2b", ...settings, apiUrl: closed.url });
    await expect(down.provision(ctx, { sandboxId: sandboxId(), teamId: "t", spec, timeoutSeconds: 60 })).rejects.toMatchObject({ kind: "unavailable" });
  });

  it("kill: terminated once, then already gone (404); 409 is a retryable conflict", async () => {
    const { providerSandboxId: pid } = await provision();
    fake.inject({ op: "kill", status: 409, sandboxId: pid });
    await expect(adapter.teardown(ctx, pid)).rejects.toMatchObject({ kind: "conflict", retryable: true, details: { status: 409 } });
    expect((await adapter.teardown(ctx, pid)).outcome).toBe("terminated");
    expect(await adapter.teardown(ctx, pid)).toEqual({ outcome: "already_gone", endedAt: null });
  });

  it("waitReady: not found is final; throttling and outages are waited out", async () => {
    await expect(adapter.waitReady(ctx, "i0000000000000000000", 1_000)).rejects.toMatchObject({ kind: "not_found" });
    const { providerSandboxId: pid } = await provision();
    fake.inject({ op: "get", status: 503, times: 2 }, { op: "get", status: 429, retryAfterSeconds: 0 });
    await expect(adapter.waitReady(ctx, pid, 5_000)).resolves.toMatchObject({ readyAt: expect.any(Date) });
    fake.inject({ op: "get", status: 500, times: 1000 });
    await expect(adapter.waitReady(ctx, pid, 300)).rejects.toMatchObject({ kind: "timeout" });
  });

  it("extend: reads back the end E2B clamped to its plan maximum, and retries a 409", async () => {
    fake.configure({ planMaxSeconds: 3600 });
    const created = await provision(sandboxId(), 60);
    fake.inject({ op: "set_timeout", status: 409 });
    const res = await adapter.extend!(ctx, created.providerSandboxId, new Date(Date.now() + 7_200_000));
    const info = fake.sandboxes().find((s) => s.sandboxID === created.providerSandboxId)!;
    expect(res.endsAt.getTime()).toBe(info.startedAt + 3_600_000);
    expect(fake.requests().filter((r) => r.path.endsWith("/timeout")).map((r) => r.status)).toEqual([409, 204]);
    await expect(adapter.extend!(ctx, "i0000000000000000000", new Date(Date.now() + 60_000))).rejects.toMatchObject({ kind: "not_found" });
  });

  it("uses only the key it is given: none means no request at all, whatever the environment holds", async () => {
    const saved = { key: process.env.E2B_API_KEY, debug: process.env.E2B_DEBUG };
    process.env.E2B_API_KEY = KEY;
    process.env.E2B_DEBUG = "true"; // debug mode would invent sandbox ids without any HTTP call
    try {
      await expect(adapter.provision({ ...ctx, credentials: {} }, { sandboxId: sandboxId(), teamId: "t", spec, timeoutSeconds: 60 })).rejects.toMatchObject({
        kind: "auth",
        retryable: false,
      });
      expect(fake.requests()).toHaveLength(0);
      await provision();
      expect(fake.creates()).toHaveLength(1);
    } finally {
      process.env.E2B_API_KEY = saved.key;
      process.env.E2B_DEBUG = saved.debug;
      if (saved.key === undefined) delete process.env.E2B_API_KEY;
      if (saved.debug === undefined) delete process.env.E2B_DEBUG;
    }
  });

  it("never puts the key or request headers in an error message", async () => {
    fake.inject({ op: "create", status: 401, message: `key ${KEY} is not valid` });
    const err = await provision().catch((e) => e);
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toMatch(/x-api-key|x-sandboxer-call/i);
    fake.inject({ op: "create", status: 500, message: `boom for ${KEY}` });
    const err2 = await provision().catch((e) => e);
    expect(err2.message).toContain("[redacted]");
    expect(err2.message).not.toContain(KEY);
  });

  it("the fake also serves the older POST /sandboxes and answers E2B's error shape", async () => {
    const res = await fetch(`${fake.url}/sandboxes`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY },
      body: JSON.stringify({ templateID: "base", metadata: { a: "b" } }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { sandboxID: string; envdVersion: string };
    expect(body.envdVersion).toBe("0.2.0");
    const s = fake.sandboxes().find((x) => x.sandboxID === body.sandboxID)!;
    expect(s.endAt - s.startedAt).toBe(15_000);
    const bad = await fetch(`${fake.url}/v2/sandboxes`, { method: "POST", headers: { "x-api-key": KEY }, body: JSON.stringify({ templateID: "base", timeout: 0 }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 400, message: expect.any(String) });
    expect((await fetch(`${fake.url}/v2/sandboxes`, { headers: { "x-api-key": "nope" } })).status).toBe(401);
  });
});

describe("e2b settings", () => {
  it("takes the manifest's settings, overridden by the environment, and names the variable on error", () => {
    expect(e2bSettingsFrom({}, {}).apiUrl).toBe("https://api.e2b.app");
    expect(e2bSettingsFrom({ api_url: "http://a.test/" }, {}).apiUrl).toBe("http://a.test");
    expect(e2bSettingsFrom({ api_url: "http://a.test" }, { SANDBOXER_E2B_API_URL: "http://127.0.0.1:4010" }).apiUrl).toBe("http://127.0.0.1:4010");
    expect(() => e2bSettingsFrom({}, { SANDBOXER_E2B_API_URL: "ftp://x" })).toThrow(/SANDBOXER_E2B_API_URL \/ settings.api_url: must be an http/);
    expect(() => e2bSettingsFrom({ page_size: 500 }, {})).toThrow(/SANDBOXER_E2B_PAGE_SIZE \/ settings.page_size: must be a whole number from 1 to 100/);
    expect(() => e2bSettingsFrom({}, { SANDBOXER_E2B_CREATE_TIMEOUT_MS: "soon" })).toThrow(/SANDBOXER_E2B_CREATE_TIMEOUT_MS/);
  });
});
