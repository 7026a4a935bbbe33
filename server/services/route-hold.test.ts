import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stubControl } from "../../adapters/saas-stub/stub-adapter";
import { creditLedger, sandboxes, usageRecords } from "../../db/schema";
import { configDirWith } from "../testing/fixtures";
import { createTestRuntime, openTestDb, seedTeam, type TestRuntime } from "../testing/harness";
import { getBalance } from "./credits";
import { provisionSandbox, teardownSandbox } from "./lifecycle";
import { createSandbox, getSandbox } from "./sandboxes";

/**
 * A request held for the entries eligible when it was made, then routed to a dearer entry that
 * became eligible while it waited (a key bound in between): the hold grows first, so the debit
 * never exceeds it; without the credit for that, routing passes the dearer entry over.
 */
const ext = (id: string, vcpu: string, extra = "") => `id: ${id}
name: ${id}
adapter: saas-stub
pricing: { currency: USD, rate_card_version: ${id}-1, vcpu_second: "${vcpu}", gib_second: "0" }
limits: { max_ttl_seconds: 3600, max_concurrent: 100, creates_per_second: 1000 }
${extra}`;
const configDir = configDirWith({
  "extensions/dear.yaml": ext(
    "ext.dear",
    "0.0001",
    `credentials: { api_key: "env:DEAR_KEY" }\nsettings: { required_credential: api_key }\n`,
  ),
  "extensions/cheap.yaml": ext("ext.cheap", "0.00001"),
  "two.yaml": `id: profile.two
name: two
pricing_model: metered
resources: { vcpu: 1, memory_mib: 256 }
template: base
ttl: { default_seconds: 60, max_seconds: 3600 }
route: [ext.dear, ext.cheap]
`,
});

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let before: TestRuntime; // no key for ext.dear: the request is held for ext.cheap
let after: TestRuntime; // the key resolves now
beforeAll(async () => {
  dbHandle = await openTestDb();
  before = await createTestRuntime(dbHandle, { configDir, processEnv: { DEAR_KEY: "" } });
  after = await createTestRuntime(dbHandle, { configDir, processEnv: { DEAR_KEY: "dear-key" } });
});
afterAll(async () => {
  await before.cleanup();
  await after.cleanup();
  await dbHandle.drop();
});

const row = async (id: string) =>
  (await after.db.select().from(sandboxes).where(eq(sandboxes.id, id)))[0]!;
const first = { attempt: 1, isLastAttempt: false };

describe("the hold when routing picks a dearer entry than the one it was sized for", () => {
  it("grows before the create, so the debit stays within it", async () => {
    const teamId = await seedTeam(before, 10_000_000n);
    const created = await createSandbox(
      before,
      { teamId, userId: null },
      { profile: "profile.two", ttlSeconds: 600 },
    );
    expect(BigInt(created.holdMicros)).toBe(6_000n); // 600 s × 1 vCPU × $0.00001
    await provisionSandbox(after, created.id, first);
    const ready = await row(created.id);
    expect(ready.extensionId).toBe("ext.dear");
    expect(ready.holdMicros).toBe(60_000n);
    expect((await getBalance(after.db, teamId)).heldMicros).toBe(60_000n);
    const grows = await after.db
      .select()
      .from(creditLedger)
      .where(and(eq(creditLedger.sandboxId, created.id), eq(creditLedger.kind, "hold_grow")));
    expect(grows.map((g) => g.amountMicros)).toEqual([54_000n]);

    // Run it to its expiry (billing is capped there): the debit is the full estimate, not capped lower.
    await after.db
      .update(sandboxes)
      .set({ startedAt: new Date(Date.now() - 700_000), expiresAt: new Date(Date.now() - 100_000) })
      .where(eq(sandboxes.id, created.id));
    await teardownSandbox(after, created.id, "ttl");
    const [usage] = await after.db
      .select()
      .from(usageRecords)
      .where(eq(usageRecords.sandboxId, created.id));
    expect(usage!.costMicros).toBe(60_000n);
    const balance = await getBalance(after.db, teamId);
    expect(balance.heldMicros).toBe(0n);
    expect(balance.balanceMicros).toBe(10_000_000n - 60_000n);
  });

  it("shows the estimate of the provider that took it, not the hold sized for a dearer one", async () => {
    const teamId = await seedTeam(after, 10_000_000n);
    const created = await createSandbox(
      after,
      { teamId, userId: null },
      { profile: "profile.two", ttlSeconds: 600 },
    );
    expect(created.estimateMicros).toBe("60000"); // both eligible: sized for ext.dear
    await stubControl(after.redis, after.keyPrefix, "ext.dear").inject("provision", {
      kind: "unavailable",
      status: 503,
      message: "down",
    });
    await provisionSandbox(after, created.id, first);
    const view = await getSandbox(after, teamId, created.id);
    expect(view.extensionId).toBe("ext.cheap");
    expect(view.holdMicros).toBe("60000");
    expect(view.estimateMicros).toBe("6000");
  });

  it("passes the dearer entry over, saying why, when the team cannot cover its estimate", async () => {
    const teamId = await seedTeam(before, 10_000n); // covers ext.cheap's $0.006, not ext.dear's $0.06
    const created = await createSandbox(
      before,
      { teamId, userId: null },
      { profile: "profile.two", ttlSeconds: 600 },
    );
    await provisionSandbox(after, created.id, first);
    const ready = await row(created.id);
    expect(ready.extensionId).toBe("ext.cheap");
    expect(ready.holdMicros).toBe(6_000n);
    expect(ready.routing?.candidates.find((c) => c.extensionId === "ext.dear")?.reason).toMatch(
      /^insufficient credits for its estimate \(\$0\.060000; \$0\.006000 held\)/,
    );
    expect((await getBalance(after.db, teamId)).heldMicros).toBe(6_000n);
  });
});
