import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxes, teamCredentialBindings } from "../../db/schema";
import { newId } from "../ids";
import { configDirWith } from "../testing/fixtures";
import { createTestRuntime, openTestDb, seedTeam, type TestRuntime } from "../testing/harness";
import { startOpenBaoFake } from "../testing/openbao-fake";
import { listRegistry } from "./console-registry";
import { checkCredentials } from "./credentials";
import { provisionSandbox } from "./lifecycle";
import { createSandbox, previewCreate } from "./sandboxes";

// A binding that breaks the team-path rule can already be in the table: bound before the rule,
// or while SANDBOXER_BYOK_OPENBAO_PATH was "*". payments.md: "checked when binding and again at
// every use" — routing (provision, preview) and the registry must refuse it too, not only
// credentials.check.
const configDir = configDirWith({
  "extensions/alpha.yaml": `id: ext.alpha
name: ext.alpha
adapter: saas-stub
pricing: { currency: USD, rate_card_version: alpha-1, vcpu_second: "0.00002", gib_second: "0.000001" }
limits: { max_ttl_seconds: 3600, max_concurrent: 100, creates_per_second: 1000 }
credentials: { api_key: "env:ALPHA_KEY" }
settings: { required_credential: api_key }
`,
  "fallback.yaml": `id: profile.fallback
name: fallback
pricing_model: metered
resources: { vcpu: 1, memory_mib: 256 }
template: base
ttl: { default_seconds: 60, max_seconds: 3600 }
route: [ext.alpha, ext.saas-stub]
`,
});

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
const bao = await startOpenBaoFake({ token: "root" });
beforeAll(async () => {
  dbHandle = await openTestDb();
  rt = await createTestRuntime(dbHandle, { configDir, processEnv: { ALPHA_KEY: "", SANDBOXER_OPENBAO_ADDR: bao.url, SANDBOXER_OPENBAO_TOKEN: "root" } });
});
afterAll(async () => {
  await rt?.cleanup();
  await dbHandle?.drop();
  await bao.close();
});

describe("a stored team binding outside the team's own OpenBao path", () => {
  it("is not used by routing, preview or the registry", async () => {
    const victim = await seedTeam(rt, 10_000_000n);
    const attacker = await seedTeam(rt, 10_000_000n);
    bao.put(`secret/teams/${victim}/alpha`, { api_key: "victim-key" });
    await rt.db.insert(teamCredentialBindings).values({
      id: newId("cred"),
      teamId: attacker,
      extensionId: "ext.alpha",
      field: "api_key",
      secretRef: `openbao://secret/teams/${victim}/alpha#api_key`,
      createdBy: null,
    });
    const refused = /team keys must live under openbao:\/\/secret\/teams\//;
    expect(await checkCredentials(rt, attacker, "ext.alpha")).toMatchObject({ resolves: false, reason: expect.stringMatching(refused) });

    const preview = await previewCreate(rt, attacker, "fallback", 60);
    expect(JSON.stringify(preview)).toMatch(refused);

    const registry = await listRegistry(rt, attacker);
    const alpha = registry.extensions.find((e) => e.id === "ext.alpha");
    expect(JSON.stringify(alpha)).toMatch(refused);

    const created = await createSandbox(rt, { teamId: attacker, userId: null }, { profile: "fallback", ttlSeconds: 60 });
    await provisionSandbox(rt, created.id, { attempt: 1, isLastAttempt: false });
    const row = (await rt.db.select().from(sandboxes).where(eq(sandboxes.id, created.id)))[0]!;
    expect(row.extensionId).toBe("ext.saas-stub");
    expect(row.routing?.candidates.find((c) => c.extensionId === "ext.alpha")?.reason).toMatch(refused);
  });
});
