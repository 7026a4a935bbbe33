import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { loadEnv } from "../env";
import { deleteKeys, logCapture, redisUrl, TestClock } from "../testing/harness";
import { getCooldown, PROBE_LEASE_MS, PROBE_RECHECK_MS, recordProviderFailure, recordProviderSuccess, SETTLE_MS } from "./cooldown";

// The breaker against a real Redis: several connections stand in for several workers.
const connections: Redis[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  for (const c of connections) c.disconnect();
  for (const p of prefixes) await deleteKeys(p);
});

const EXT = "ext.flaky";
const BASE_MS = 30_000;

function workers(n: number, failures = 5) {
  const keyPrefix = `t-${randomBytes(5).toString("hex")}`;
  prefixes.push(keyPrefix);
  const clock = new TestClock(new Date("2026-12-01T00:00:00.000Z"));
  const env = loadEnv({ ...process.env, REDIS_URL: redisUrl(), SANDBOXER_COOLDOWN_FAILURES: String(failures), SANDBOXER_COOLDOWN_MS: String(BASE_MS) });
  const { lines, logger } = logCapture();
  const rts = Array.from({ length: n }, () => {
    const redis = new Redis(redisUrl());
    connections.push(redis);
    return { redis, keyPrefix, clock, env, logger };
  });
  const opened = () => lines.filter((l) => l.includes('"extension cooling down"')).map((l) => JSON.parse(l) as { until: string; reason: string });
  const averted = () => lines.filter((l) => l.includes('"no cool-down: a create succeeded right after a streak of failures')).length;
  return { rts, clock, opened, averted, t0: clock.now().getTime() };
}
const fail = (why = "unavailable: down", retryAfterMs?: number) => ({ reason: why, retryAfterMs });
/** `n` failures reported at the same moment, spread over the workers. */
const burstOfFailures = (rts: ReturnType<typeof workers>["rts"], n: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => recordProviderFailure(rts[i % rts.length]!, EXT, fail())));

describe("cool-down: opening", () => {
  it("opens once for a streak reported all at once, however long the streak, and never escalates on failures in flight", async () => {
    const { rts, clock, opened, t0 } = workers(3);
    await burstOfFailures(rts, 8); // the tester's case: 5, 6, 7, 8 in the same millisecond
    expect(await getCooldown(rts[0]!, EXT)).toBeNull(); // tripped, not confirmed yet
    clock.advance(SETTLE_MS);
    const cd = await getCooldown(rts[1]!, EXT);
    expect(cd?.until.getTime()).toBe(t0 + BASE_MS);
    expect(cd?.reason).toBe("8 failures in a row, last: unavailable: down");

    // Creates that were in flight when it opened fail now, many at once: nothing changes.
    clock.advance(1_000);
    await burstOfFailures(rts, 40);
    expect((await getCooldown(rts[2]!, EXT))?.until.getTime()).toBe(t0 + BASE_MS);
    expect(opened()).toHaveLength(1);
  });

  it("does not cool down when the successes of the same burst are reported after its failures", async () => {
    const { rts, clock, opened, averted } = workers(3);
    // A burst of 50 creates at a 10% failure rate, in the order a burst reports them: the fast
    // failures first, the slower successes a moment later. Over and over, worst case every time.
    for (let burst = 0; burst < 20; burst++) {
      await burstOfFailures(rts, 5);
      clock.advance(400);
      await Promise.all(Array.from({ length: 45 }, (_, i) => recordProviderSuccess(rts[i % 3]!, EXT)));
      clock.advance(SETTLE_MS);
      expect(await getCooldown(rts[0]!, EXT, { claimProbe: true })).toBeNull();
    }
    expect(opened()).toHaveLength(0);
    expect(averted()).toBe(20);
  });

  it("counts only failures in a row: a success resets the streak", async () => {
    const { rts, clock } = workers(1);
    const [rt] = rts as [(typeof rts)[0]];
    for (let i = 0; i < 4; i++) await recordProviderFailure(rt, EXT, fail());
    await recordProviderSuccess(rt, EXT);
    for (let i = 0; i < 4; i++) await recordProviderFailure(rt, EXT, fail());
    clock.advance(SETTLE_MS);
    expect(await getCooldown(rt, EXT)).toBeNull();
    await recordProviderFailure(rt, EXT, fail());
    clock.advance(SETTLE_MS);
    expect((await getCooldown(rt, EXT))?.reason).toBe("5 failures in a row, last: unavailable: down");
  });

  it("honours a Retry-After longer than the cool-down, also from a create in flight, without escalating", async () => {
    const { rts, clock, t0 } = workers(1, 1);
    const [rt] = rts as [(typeof rts)[0]];
    await recordProviderFailure(rt, EXT, fail("rate_limited: slow down", 45_000));
    clock.advance(SETTLE_MS);
    expect((await getCooldown(rt, EXT))?.until.getTime()).toBe(t0 + 45_000);
    clock.advance(1_000);
    await recordProviderFailure(rt, EXT, fail("rate_limited: slow down", 90_000));
    expect((await getCooldown(rt, EXT))?.until.getTime()).toBe(t0 + SETTLE_MS + 1_000 + 90_000);
    await recordProviderFailure(rt, EXT, fail("unavailable: down"));
    expect((await getCooldown(rt, EXT))?.until.getTime()).toBe(t0 + SETTLE_MS + 1_000 + 90_000);
  });
});

describe("cool-down: after it ends (half-open)", () => {
  it("lets one create through as a probe; its failure doubles the cool-down, its success closes it", async () => {
    const { rts, clock, opened, t0 } = workers(3);
    await burstOfFailures(rts, 5);
    clock.advance(SETTLE_MS);
    expect((await getCooldown(rts[0]!, EXT))?.until.getTime()).toBe(t0 + BASE_MS);

    clock.set(new Date(t0 + BASE_MS));
    // A preview neither takes the probe nor is held back.
    expect(await getCooldown(rts[0]!, EXT)).toBeNull();
    // Workers about to create race for the probe: exactly one gets it, the rest wait for it.
    const plans = await Promise.all(Array.from({ length: 12 }, (_, i) => getCooldown(rts[i % 3]!, EXT, { claimProbe: true })));
    expect(plans.filter((p) => p === null)).toHaveLength(1);
    const waiting = plans.filter((p) => p !== null);
    expect(waiting.every((p) => p!.probing && p!.until.getTime() === t0 + BASE_MS + PROBE_RECHECK_MS)).toBe(true);
    expect(waiting[0]!.reason).toBe("5 failures in a row, last: unavailable: down");

    // The probe fails (with stragglers from before, reported at the same moment): one doubling.
    const probeFailedAt = clock.now().getTime() + 200;
    clock.set(new Date(probeFailedAt));
    await burstOfFailures(rts, 6);
    const second = await getCooldown(rts[1]!, EXT, { claimProbe: true });
    expect(second?.until.getTime()).toBe(probeFailedAt + 2 * BASE_MS);
    expect(second?.reason).toBe("failed again after its cool-down ended (this one 60 s), last: unavailable: down");
    expect(second?.probing).toBeUndefined();

    // Again: four times the base now.
    clock.set(second!.until);
    expect(await getCooldown(rts[2]!, EXT, { claimProbe: true })).toBeNull();
    await recordProviderFailure(rts[2]!, EXT, fail());
    const third = await getCooldown(rts[0]!, EXT);
    expect(third?.until.getTime()).toBe(second!.until.getTime() + 4 * BASE_MS);
    expect(opened().map((o) => o.reason)).toEqual([
      "5 failures in a row, last: unavailable: down",
      "failed again after its cool-down ended (this one 60 s), last: unavailable: down",
      "failed again after its cool-down ended (this one 120 s), last: unavailable: down",
    ]);

    // This time the probe succeeds: closed, for everyone, and the next streak starts from the base again.
    clock.set(third!.until);
    expect(await getCooldown(rts[0]!, EXT, { claimProbe: true })).toBeNull();
    await recordProviderSuccess(rts[0]!, EXT);
    expect(await getCooldown(rts[1]!, EXT, { claimProbe: true })).toBeNull();
    expect(await getCooldown(rts[2]!, EXT, { claimProbe: true })).toBeNull();
    const restart = clock.now().getTime();
    await burstOfFailures(rts, 5);
    clock.advance(SETTLE_MS);
    expect((await getCooldown(rts[0]!, EXT))?.until.getTime()).toBe(restart + BASE_MS);
  });

  it("gives the probe to another create when the one that took it never reports", async () => {
    const { rts, clock, t0 } = workers(2, 1);
    await recordProviderFailure(rts[0]!, EXT, fail());
    clock.set(new Date(t0 + BASE_MS));
    expect(await getCooldown(rts[0]!, EXT, { claimProbe: true })).toBeNull();
    expect((await getCooldown(rts[1]!, EXT, { claimProbe: true }))?.probing).toBe(true);
    clock.advance(PROBE_LEASE_MS);
    expect(await getCooldown(rts[1]!, EXT, { claimProbe: true })).toBeNull();
  });

  it("ignores a success from a create that was in flight while it cooled down", async () => {
    const { rts, clock, t0 } = workers(1, 1);
    const [rt] = rts as [(typeof rts)[0]];
    await recordProviderFailure(rt, EXT, fail());
    clock.advance(SETTLE_MS + 1_000);
    await recordProviderSuccess(rt, EXT);
    expect((await getCooldown(rt, EXT))?.until.getTime()).toBe(t0 + BASE_MS);
  });
});
