import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../contract";
import { describeAdapterConformance } from "../conformance";
import { createLogger } from "../../server/logger";
import { parseRatePico } from "../../server/money";
import { deleteKeys, redisUrl } from "../../server/testing/harness";
import { createStubAdapter, stubControl, stubSettingsFrom } from "./stub-adapter";

const redis = new Redis(redisUrl());
const prefix = `t-stub-${randomBytes(4).toString("hex")}`;
afterAll(async () => {
  redis.disconnect();
  await deleteKeys(prefix);
});

const settings = { latencyMs: 0, readyDelayMs: 0, failRate: 0, pageSize: 3, requiredCredential: null };
const adapter = createStubAdapter({ extensionId: "ext.saas-stub", redis, keyPrefix: prefix, settings });
const ctx = { logger: createLogger({ level: "silent" }), clock: systemClock, credentials: {} };
const spec = { template: "base", vcpuMilli: 2000, memoryMiB: 512, gpuCount: 0, gpuType: null };

describeAdapterConformance("saas-stub", async () => ({
  adapter,
  ctx,
  rates: { vcpuSecondPico: parseRatePico("0.000012"), gibSecondPico: parseRatePico("0.000004"), gpuSecondPico: 0n },
  spec,
  unknownProviderId: "stub-0000000000000000",
  sandboxesForPaging: 7,
}));

describe("saas-stub specifics", () => {
  it("shares state across adapter instances (as across worker processes)", async () => {
    const other = createStubAdapter({ extensionId: "ext.saas-stub", redis: new Redis(redisUrl()), keyPrefix: prefix, settings });
    const created = await adapter.provision(ctx, { sandboxId: "sbx_shared1", teamId: "t", spec, timeoutSeconds: 60 });
    expect((await other.list(ctx, { sandboxId: "sbx_shared1" })).map((s) => s.providerSandboxId)).toEqual([created.providerSandboxId]);
    expect((await other.teardown(ctx, created.providerSandboxId)).outcome).toBe("terminated");
  });

  it("fails the listing when a page fails instead of returning a short list", async () => {
    for (let i = 0; i < 4; i++) await adapter.provision(ctx, { sandboxId: `sbx_page${i}`, teamId: "t", spec, timeoutSeconds: 60 });
    const control = stubControl(redis, prefix);
    await control.inject("list", { kind: "unavailable" }); // first page fails
    await expect(adapter.list(ctx)).rejects.toMatchObject({ kind: "unavailable" });
  });

  it("validates settings, naming the variable", () => {
    expect(() => stubSettingsFrom({ fail_rate: 2 }, {})).toThrow(/SANDBOXER_STUB_FAIL_RATE \/ settings.fail_rate: must be between 0 and 1/);
    expect(() => stubSettingsFrom({}, { SANDBOXER_STUB_LATENCY_MS: "abc" })).toThrow(/SANDBOXER_STUB_LATENCY_MS/);
    expect(stubSettingsFrom({ latency_ms: 5 }, { SANDBOXER_STUB_LATENCY_MS: "0" }).latencyMs).toBe(0);
  });

  it("keeps its state in a Redis of its own when redis_url / SANDBOXER_STUB_REDIS_URL is set", async () => {
    expect(stubSettingsFrom({ redis_url: "redis://a:1" }, {}).redisUrl).toBe("redis://a:1");
    expect(stubSettingsFrom({ redis_url: "redis://a:1" }, { SANDBOXER_STUB_REDIS_URL: "redis://b:2" }).redisUrl).toBe("redis://b:2");
    expect(stubSettingsFrom({}, {}).redisUrl).toBeNull();
    // The runtime's connection is unusable: every call must go to the stub's own Redis.
    const unusable = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false });
    const own = createStubAdapter({ extensionId: "ext.saas-stub", redis: unusable, keyPrefix: prefix, settings: { ...settings, redisUrl: redisUrl() } });
    try {
      const created = await own.provision(ctx, { sandboxId: "sbx_ownredis1", teamId: "t", spec, timeoutSeconds: 60 });
      expect(await stubControl(redis, prefix).get(created.providerSandboxId)).toMatchObject({ sandboxId: "sbx_ownredis1", state: "running" });
      expect((await own.teardown(ctx, created.providerSandboxId)).outcome).toBe("terminated");
    } finally {
      await own.close?.();
      unusable.disconnect();
    }
  });
});
