import { describe, expect, it } from "vitest";
import type { Rates } from "../server/money";
import type { AdapterContext, SandboxAdapter, SandboxSpec } from "./contract";

export type ConformanceTarget = {
  adapter: SandboxAdapter;
  ctx: AdapterContext;
  rates: Rates;
  spec: SandboxSpec;
  /** An id the provider has never issued, shaped like its real ids. */
  unknownProviderId: string;
  /** How many sandboxes to create to span more than one page of `list` (page size + 1 or more). */
  sandboxesForPaging: number;
};

const uniqueSandboxId = () => `sbx_conf${Math.random().toString(36).slice(2, 12)}`;

/**
 * The contract every adapter must pass, run against its provider (or the provider's local fake)
 * through the adapter's real client. `setup` is called once per test.
 */
export function describeAdapterConformance(name: string, setup: () => Promise<ConformanceTarget>) {
  describe(`adapter conformance: ${name}`, () => {
    it("provisions a sandbox tagged with Sandboxer's id, waits ready, tears it down once", async () => {
      const t = await setup();
      const sandboxId = uniqueSandboxId();
      const created = await t.adapter.provision(t.ctx, { sandboxId, teamId: "team_conf", spec: t.spec, timeoutSeconds: 120 });
      expect(created.providerSandboxId).toBeTruthy();
      expect(created.startedAt).toBeInstanceOf(Date);

      const tagged = await t.adapter.list(t.ctx, { sandboxId });
      expect(tagged.map((s) => s.providerSandboxId)).toEqual([created.providerSandboxId]);
      expect(tagged[0]).toMatchObject({ sandboxId, teamId: "team_conf" });

      const ready = await t.adapter.waitReady(t.ctx, created.providerSandboxId, 10_000);
      expect(ready.readyAt).toBeInstanceOf(Date);

      expect((await t.adapter.teardown(t.ctx, created.providerSandboxId)).outcome).toBe("terminated");
      expect((await t.adapter.teardown(t.ctx, created.providerSandboxId)).outcome).toBe("already_gone");
      const all = await t.adapter.list(t.ctx);
      expect(all.filter((s) => s.providerSandboxId === created.providerSandboxId && s.state !== "ended")).toEqual([]);
    });

    it("reports a sandbox it never issued as already gone", async () => {
      const t = await setup();
      expect((await t.adapter.teardown(t.ctx, t.unknownProviderId)).outcome).toBe("already_gone");
    });

    it("lists every page of Sandboxer's sandboxes", async () => {
      const t = await setup();
      const ids: string[] = [];
      for (let i = 0; i < t.sandboxesForPaging; i++) {
        const c = await t.adapter.provision(t.ctx, { sandboxId: uniqueSandboxId(), teamId: "team_conf", spec: t.spec, timeoutSeconds: 120 });
        ids.push(c.providerSandboxId);
      }
      const listed = new Set((await t.adapter.list(t.ctx)).map((s) => s.providerSandboxId));
      for (const id of ids) expect(listed.has(id)).toBe(true);
      for (const id of ids) await t.adapter.teardown(t.ctx, id);
    });

    it("meters the full TTL at exactly the estimate, and less for less", async () => {
      const t = await setup();
      const start = new Date("2026-12-01T00:00:00Z");
      const estimate = t.adapter.estimateCost(t.spec, t.rates, 3600);
      const full = t.adapter.meterActual({ spec: t.spec, rates: t.rates, startedAt: start, endedAt: new Date(start.getTime() + 3_600_000) });
      expect(full).toEqual({ durationMs: 3_600_000, costMicros: estimate });
      const part = t.adapter.meterActual({ spec: t.spec, rates: t.rates, startedAt: start, endedAt: new Date(start.getTime() + 1_000) });
      expect(part.durationMs).toBe(1_000);
      expect(part.costMicros).toBeLessThanOrEqual(estimate);
      expect(estimate).toBeGreaterThan(0n);
    });

    it("extends when it says it can, and reports the effective end", async () => {
      const t = await setup();
      if (!t.adapter.canExtend) {
        expect(t.adapter.extend).toBeUndefined();
        return;
      }
      const created = await t.adapter.provision(t.ctx, { sandboxId: uniqueSandboxId(), teamId: "team_conf", spec: t.spec, timeoutSeconds: 60 });
      await t.adapter.waitReady(t.ctx, created.providerSandboxId, 10_000);
      const wanted = new Date(t.ctx.clock.now().getTime() + 600_000);
      const res = await t.adapter.extend!(t.ctx, created.providerSandboxId, wanted);
      expect(Math.abs(res.endsAt.getTime() - wanted.getTime())).toBeLessThan(2_000);
      await t.adapter.teardown(t.ctx, created.providerSandboxId);
    });
  });
}
