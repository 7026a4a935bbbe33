import type { Runtime } from "../runtime";

/**
 * Provider cool-downs: a circuit breaker per extension, shared by every worker through Redis.
 * Only retryable failures before a sandbox exists (429, 5xx, capacity) count; see
 * docs/routing.md, "Cool-downs".
 *
 * - **Closed.** Each failure adds to a streak; a successful create ends it. When the streak
 *   reaches SANDBOXER_COOLDOWN_FAILURES the breaker *trips*.
 * - **Tripped.** The streak is confirmed only if no create succeeds within SETTLE_MS: in a burst,
 *   a provider fails fast and creates slowly, so the failures among concurrent creates are
 *   reported before the successes of the same burst, and a provider that fails one create in ten
 *   would otherwise look like it failed five in a row. Routing still uses the extension meanwhile.
 * - **Open** (cooling down), SANDBOXER_COOLDOWN_MS from the failure that tripped it, never shorter
 *   than a Retry-After the provider sent. Routing passes it over. Results of creates that were
 *   already in flight when it opened change nothing (a failure does not escalate it; only a
 *   Retry-After can lengthen it).
 * - **Half-open**, once the cool-down ends: one create at a time is let through as a probe (a
 *   lease of PROBE_LEASE_MS); other requests wait, rechecking every PROBE_RECHECK_MS. The probe's
 *   success closes the breaker; its failure opens it again for twice as long as the last time (up
 *   to 16×). Only such a failure — of a create made after the cool-down ended — escalates.
 */
const FAILURE_WINDOW_MS = 5 * 60_000;
export const SETTLE_MS = 2_000;
export const PROBE_LEASE_MS = 10_000;
export const PROBE_RECHECK_MS = 1_000;
const MAX_DOUBLINGS = 4;

const keyOf = (prefix: string, extensionId: string) => `${prefix}:cooldown:${extensionId}`;

export type Cooldown = {
  /** When routing may try the extension again: the cool-down's end, or the next recheck while a probe is out. */
  until: Date;
  reason: string;
  /** The cool-down has ended and one create is testing the extension; others wait for its result. */
  probing?: boolean;
};

type Rt = Pick<Runtime, "redis" | "keyPrefix" | "clock" | "env" | "logger">;

/**
 * The whole state machine in one script, so concurrent workers see every transition atomically.
 * State (a hash): streak, trippedAt, until, level, notBefore (from Retry-After), reason, probeUntil.
 * Returns [phase before the operation, until, reason, opened ("1" when this call opened it), probing].
 */
const SCRIPT = `
local key = KEYS[1]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local settle = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local lease = tonumber(ARGV[7])
local retryAfter = tonumber(ARGV[8])
local why = ARGV[9]
local claim = ARGV[10] == '1'
local maxLevel = tonumber(ARGV[11])

local s = {}
local raw = redis.call('HGETALL', key)
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local streak = tonumber(s['streak'] or '0')
local trippedAt = tonumber(s['trippedAt'] or '')
local untilMs = tonumber(s['until'] or '')
local level = tonumber(s['level'] or '0')
local notBefore = tonumber(s['notBefore'] or '0')
local probeUntil = tonumber(s['probeUntil'] or '0')
local reason = s['reason'] or ''
local changed = false
local opened = false

-- A tripped streak that no success refuted within the settle time opens the breaker, dated from
-- the failure that tripped it (with no cool-down length and no Retry-After there is nothing to wait for).
local function confirm()
  local ends = math.max(trippedAt + base, notBefore)
  if ends > trippedAt then
    untilMs = ends
    level = 0
    opened = untilMs > now
  end
  streak = 0
  notBefore = 0
  trippedAt = nil
  changed = true
end
if trippedAt and not untilMs and now >= trippedAt + settle then confirm() end

local phase = 'closed'
if untilMs and now < untilMs then phase = 'open'
elseif untilMs then phase = 'half'
elseif trippedAt then phase = 'tripped' end
local before = phase
local probing = false

if op == 'fail' then
  if phase == 'open' then
    -- In flight when it opened: no escalation; only the provider's own Retry-After can lengthen it.
    if retryAfter > 0 and now + retryAfter > untilMs then
      untilMs = now + retryAfter
      changed = true
    end
  elseif phase == 'half' then
    level = math.min(level + 1, maxLevel)
    untilMs = math.floor(math.max(now + base * 2 ^ level, now + retryAfter))
    probeUntil = 0
    reason = 'failed again after its cool-down ended (this one ' .. math.floor((untilMs - now) / 1000) .. ' s), last: ' .. why
    changed = true
    opened = true
  else
    streak = streak + 1
    notBefore = math.max(notBefore, now + retryAfter)
    if streak == 1 then reason = '1 failure: ' .. why else reason = streak .. ' failures in a row, last: ' .. why end
    if not trippedAt and streak >= threshold then trippedAt = now end
    changed = true
    if trippedAt and settle <= 0 then confirm() end
  end
elseif op == 'ok' then
  -- A success closes the breaker unless it is open: then the create was in flight when it opened.
  if phase ~= 'open' then
    redis.call('DEL', key)
    return {before, '', '', '0', '0'}
  end
elseif op == 'read' then
  if phase == 'half' then
    if probeUntil > now then
      probing = true
    elseif claim then
      probeUntil = now + lease
      changed = true
    end
  end
end

if changed then
  redis.call('DEL', key)
end
if changed and (streak > 0 or trippedAt or untilMs) then
  local fields = {'streak', streak, 'level', level, 'notBefore', notBefore, 'reason', reason}
  if trippedAt then table.insert(fields, 'trippedAt'); table.insert(fields, trippedAt) end
  if untilMs then table.insert(fields, 'until'); table.insert(fields, untilMs) end
  if probeUntil > now then table.insert(fields, 'probeUntil'); table.insert(fields, probeUntil) end
  redis.call('HSET', key, unpack(fields))
  local horizon = math.max(untilMs or 0, (trippedAt or 0) + settle, now)
  redis.call('PEXPIRE', key, math.floor(horizon - now + window))
end
local u = ''
if untilMs and now < untilMs then u = tostring(untilMs) elseif probing then u = tostring(probeUntil) end
return {before, u, reason, opened and '1' or '0', probing and '1' or '0'}
`;

type Reply = [phase: "closed" | "tripped" | "open" | "half", until: string, reason: string, opened: "0" | "1", probing: "0" | "1"];

async function run(rt: Rt, extensionId: string, op: "fail" | "ok" | "read", extra: { retryAfterMs?: number; why?: string; claim?: boolean } = {}) {
  const base = rt.env.SANDBOXER_COOLDOWN_MS;
  const now = rt.clock.now().getTime();
  const reply = (await rt.redis.eval(
    SCRIPT,
    1,
    keyOf(rt.keyPrefix, extensionId),
    op,
    String(now),
    String(rt.env.SANDBOXER_COOLDOWN_FAILURES),
    String(base),
    String(Math.min(SETTLE_MS, Math.floor(base / 2))),
    String(FAILURE_WINDOW_MS),
    String(PROBE_LEASE_MS),
    String(Math.max(0, Math.round(extra.retryAfterMs ?? 0))),
    extra.why ?? "",
    extra.claim ? "1" : "0",
    String(MAX_DOUBLINGS),
  )) as Reply;
  const [phase, until, reason, opened, probing] = reply;
  if (opened === "1") rt.logger.warn({ extensionId, until: new Date(Number(until)).toISOString(), reason }, "extension cooling down");
  let cooldown: Cooldown | null = null;
  if (probing === "1") {
    cooldown = { until: new Date(Math.min(Number(until), now + PROBE_RECHECK_MS)), reason, probing: true };
  } else if (until) {
    cooldown = { until: new Date(Number(until)), reason };
  }
  return { phase, cooldown };
}

/**
 * The extension's cool-down as routing should see it now, or null when it may be tried. With
 * `claimProbe` (the provision job, about to try this entry first) a cool-down that has ended
 * gives this caller the probe; without it, or while another caller's probe is out, the entry
 * reads as waiting for that probe.
 */
export async function getCooldown(rt: Rt, extensionId: string, opts: { claimProbe?: boolean } = {}): Promise<Cooldown | null> {
  return (await run(rt, extensionId, "read", { claim: opts.claimProbe })).cooldown;
}

export async function recordProviderFailure(
  rt: Rt,
  extensionId: string,
  failure: { reason: string; retryAfterMs?: number },
): Promise<Cooldown | null> {
  return (await run(rt, extensionId, "fail", { why: failure.reason, retryAfterMs: failure.retryAfterMs })).cooldown;
}

export async function recordProviderSuccess(rt: Rt, extensionId: string): Promise<void> {
  const { phase } = await run(rt, extensionId, "ok");
  if (phase === "half") rt.logger.info({ extensionId }, "extension recovered after its cool-down");
  else if (phase === "tripped") rt.logger.info({ extensionId }, "no cool-down: a create succeeded right after a streak of failures (concurrent creates)");
}
