import { afterAll, beforeAll, expect, it } from "vitest";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { eq, is } from "drizzle-orm";
import { stubControl } from "../adapters/saas-stub/stub-adapter";
import * as schema from "../db/schema";
import { startWorkers, type StartedWorkers } from "../jobs/worker";
import { configDirWith } from "./testing/fixtures";
import { createTestRuntime, openTestDb, seedTeam, type TestRuntime } from "./testing/harness";
import { createSandbox, destroySandbox, getSandbox } from "./services/sandboxes";
import { bindCredential, checkCredentials, listCredentialBindings } from "./services/credentials";
import { startOpenBaoFake } from "./testing/openbao-fake";

const SENTINEL = "sk-SENTINEL-7f3a9c2e1b5d4680";
const TEAM_SENTINEL = "team-SENTINEL-0b1c2d3e4f5a6978";
let bao: Awaited<ReturnType<typeof startOpenBaoFake>>;
let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let workers: StartedWorkers;

beforeAll(async () => {
  dbHandle = await openTestDb();
  const configDir = configDirWith({
    "extensions/keyed-stub.yaml": `id: ext.keyed-stub
name: Stub that needs a key
adapter: saas-stub
pricing: { currency: USD, rate_card_version: k1, vcpu_second: "0.00001", gib_second: "0.000001" }
limits: { max_ttl_seconds: 3600, max_concurrent: 10, creates_per_second: 10 }
credentials: { api_key: "env:SBX_TEST_SENTINEL_KEY" }
settings: { required_credential: api_key }
`,
    "keyed.yaml": `id: profile.keyed
name: Keyed
pricing_model: metered
resources: { vcpu: 1, memory_mib: 256 }
template: base
ttl: { default_seconds: 60, max_seconds: 600 }
route: [ext.keyed-stub]
`,
  });
  bao = await startOpenBaoFake({ token: "bao-token" });
  rt = await createTestRuntime(dbHandle, {
    configDir,
    processEnv: { SBX_TEST_SENTINEL_KEY: SENTINEL, SANDBOXER_OPENBAO_ADDR: bao.url, SANDBOXER_OPENBAO_TOKEN: "bao-token" },
  });
  workers = await startWorkers(rt, { concurrency: 4, sweepEveryMs: 60_000 });
});
afterAll(async () => {
  await workers.close();
  await rt.cleanup();
  await dbHandle.drop();
  await bao.close();
});

async function waitForState(teamId: string, id: string, state: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await getSandbox(rt, teamId, id);
    if (s.state === state) return s;
    if (Date.now() > deadline) throw new Error(`${id} stuck in ${s.state}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function dumpDb(): Promise<string> {
  const tables = (Object.values(schema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));
  const out: unknown[] = [];
  for (const t of tables) out.push(getTableConfig(t).name, await rt.db.select().from(t));
  return JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

async function dumpRedis(): Promise<string> {
  const parts: string[] = [];
  for (const pattern of [`${rt.keyPrefix}:*`, `{${rt.keyPrefix}}:*`]) {
    const keys = await rt.redis.keys(pattern);
    for (const key of keys) {
      const type = await rt.redis.type(key);
      const value =
        type === "string" ? await rt.redis.get(key)
        : type === "hash" ? await rt.redis.hgetall(key)
        : type === "list" ? await rt.redis.lrange(key, 0, -1)
        : type === "set" ? await rt.redis.smembers(key)
        : type === "zset" ? await rt.redis.zrange(key, 0, -1)
        : type === "stream" ? await rt.redis.xrange(key, "-", "+")
        : null;
      parts.push(key, JSON.stringify(value));
    }
  }
  return parts.join("\n");
}

async function runLeakScenario(teamId: string, sentinel: string, extraApiOutput: () => Promise<unknown>) {
  const stub = stubControl(rt.redis, rt.keyPrefix, "ext.keyed-stub");
  // A provider that echoes the request, key included, in its error messages.
  await stub.inject("provision", { kind: "unavailable", status: 503, message: `upstream said: bad request with X-API-Key: ${sentinel}` });
  await stub.inject("teardown", { kind: "unavailable", status: 502, message: `proxy error for key=${sentinel}` });

  const created = await createSandbox(rt, { teamId, userId: null }, { profile: "keyed", ttlSeconds: 60 });
  await waitForState(teamId, created.id, "ready");
  await destroySandbox(rt, { teamId, userId: null }, created.id);
  const done = await waitForState(teamId, created.id, "destroyed");

  // The failures really happened and were recorded (scrubbed), so the checks below mean something.
  const reasons = done.events.map((e) => e.reason).join("\n");
  expect(reasons).toMatch(/create failed: unavailable: upstream said: bad request with X-API-Key: \[redacted\]/);
  expect(reasons).toMatch(/teardown failed, will retry: unavailable: proxy error for key=\[redacted\]/);

  expect(JSON.stringify(done)).not.toContain(sentinel);
  expect(JSON.stringify(await extraApiOutput())).not.toContain(sentinel);
  expect(await dumpDb()).not.toContain(sentinel);
  expect(await dumpRedis()).not.toContain(sentinel);
  expect(rt.logs.length).toBeGreaterThan(0);
  expect(rt.logs.join("")).not.toContain(sentinel);
  return done;
}

it("a platform key never appears in the DB, Redis job data, failure reasons, logs or API output", async () => {
  const teamId = await seedTeam(rt, 10_000_000n);
  const done = await runLeakScenario(teamId, SENTINEL, () => listCredentialBindings(rt, teamId));
  expect(done.credentialSource).toBe("platform");
});

it("a team's own key (BYOK from OpenBao) never appears anywhere either", async () => {
  const teamId = await seedTeam(rt, 10_000_000n);
  bao.put(`kv/teams/${teamId}/keyed`, { api_key: TEAM_SENTINEL });
  await bindCredential(rt, { teamId, userId: "user_leak" }, { extensionId: "ext.keyed-stub", field: "api_key", secretRef: `openbao://kv/teams/${teamId}/keyed#api_key` });
  const done = await runLeakScenario(teamId, TEAM_SENTINEL, async () => [await listCredentialBindings(rt, teamId), await checkCredentials(rt, teamId, "ext.keyed-stub")]);
  expect(done.credentialSource).toBe("team");
});
