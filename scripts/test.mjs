#!/usr/bin/env node
// `npm test` — every test, against a real Redis and real databases.
//
//   1. vitest with TEST_DB=pglite (embedded Postgres, always available);
//   2. vitest with TEST_DB=postgres, if TEST_DATABASE_URL or DATABASE_URL is
//      set (the harness makes a throwaway database per test file from it);
//   3. Playwright e2e tests in e2e/, in Debian's /usr/bin/chromium.
// Then one closing line "N passed, N failed[, N skipped]" over all of them.
//
// `npm test -- <vitest args>` (e.g. a file filter) runs only the vitest
// passes, with those arguments. See docs/development.md.
//
// Built-ins only, like scripts/up.mjs.

import fs from "node:fs";
import path from "node:path";
import {
  DATA_DIR,
  isPortFree,
  ROOT,
  liveChildren,
  localBin,
  onStopSignal,
  resolveRedis,
  say,
  startChild,
  stopChildren,
  warn,
} from "./lib/services.mjs";

const RESULTS_DIR = path.join(DATA_DIR, "test-results");
const CHROMIUM = "/usr/bin/chromium";

let stopping = null; // set on Ctrl-C/SIGTERM: no further step may start

main().catch((err) => {
  warn(err.stack || String(err));
  process.exit(1);
});

async function main() {
  const vitestArgs = process.argv.slice(2);
  process.chdir(ROOT);
  onStopSignal((signal) => {
    stopping = (async () => {
      warn(`${signal} received: stopping the tests`);
      await stopChildren(liveChildren(), 10_000);
      process.exit(130);
    })();
  });
  fs.mkdirSync(RESULTS_DIR, { recursive: true });

  const redis = await resolveRedis({ reuseDefault: true });
  const runs = [];

  runs.push(await runVitest("pglite", vitestArgs, { REDIS_URL: redis.url }));

  const pgUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (pgUrl) {
    runs.push(
      await runVitest("postgres", vitestArgs, { REDIS_URL: redis.url, TEST_DATABASE_URL: pgUrl }),
    );
  } else {
    say(
      "Postgres pass skipped: set TEST_DATABASE_URL (or DATABASE_URL) to run the tests on Postgres too.",
    );
  }

  if (vitestArgs.length > 0) say("e2e skipped: arguments were given, and they only filter vitest.");
  else {
    const e2e = await runPlaywright({ REDIS_URL: redis.url });
    if (e2e) runs.push(e2e);
  }

  if (redis.child) await stopChildren([redis.child], 5_000);
  process.exit(summarize(runs));
}

// ---------------------------------------------------------------------------
// Runners. Each returns { name, ok, passed, failed, skipped, problem? }.

async function runVitest(driver, extraArgs, extraEnv) {
  const name = `vitest (${driver})`;
  const report = path.join(RESULTS_DIR, `vitest-${driver}.json`);
  fs.rmSync(report, { force: true }); // a stale report must not be read as this run's
  const env = { ...process.env, ...extraEnv, TEST_DB: driver };
  // Tests choose their database from TEST_DB/TEST_DATABASE_URL only; never let
  // them touch the developer's own DATABASE_URL.
  delete env.DATABASE_URL;
  if (driver === "pglite") delete env.TEST_DATABASE_URL;

  // e2e/*.spec.ts are Playwright's; vitest would otherwise try to load them.
  // prettier-ignore
  const args = ["run", "--exclude=e2e/**", "--reporter=default", "--reporter=json", `--outputFile=${report}`, ...extraArgs];
  const code = await run(name, localBin("vitest"), args, env);

  const json = readJson(report);
  if (!json)
    return {
      name,
      ok: false,
      passed: 0,
      failed: 0,
      skipped: 0,
      problem: `exited with code ${code} and wrote no report`,
    };
  // A test file that fails to load has no failing test, only a failed file:
  // count each such file as one failure so the totals don't look green.
  const brokenFiles = (json.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((t) => t.status === "failed"),
  ).length;
  return {
    name,
    ok: code === 0,
    failures: vitestFailures(json),
    passed: json.numPassedTests ?? 0,
    failed: (json.numFailedTests ?? 0) + brokenFiles,
    skipped: (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0),
    problem:
      code !== 0
        ? `exited with code ${code}${brokenFiles ? ` (${brokenFiles} file(s) failed to load)` : ""}`
        : null,
  };
}

/**
 * "file > title: first line of the error" for each failed test or file, so the
 * closing summary (all a CI log tail may keep) names what failed.
 */
function vitestFailures(json) {
  const out = [];
  for (const f of json.testResults ?? []) {
    const file = path.relative(ROOT, f.name ?? "?");
    const failed = (f.assertionResults ?? []).filter((t) => t.status === "failed");
    for (const t of failed)
      out.push(`${file} > ${t.fullName ?? t.title}: ${firstLine(t.failureMessages?.[0])}`);
    if (f.status === "failed" && failed.length === 0)
      out.push(`${file}: ${firstLine(f.message) || "failed to load"}`);
  }
  return out;
}

function playwrightFailures(suites, out = []) {
  for (const suite of suites) {
    for (const spec of suite.specs ?? [])
      for (const t of spec.tests ?? [])
        if (t.status === "unexpected") {
          const last = t.results?.at(-1);
          out.push(`${spec.file} > ${spec.title}: ${firstLine(last?.error?.message)}`);
        }
    playwrightFailures(suite.suites ?? [], out);
  }
  return out;
}

// eslint-disable-next-line no-control-regex
const ANSI_COLOUR = /\u001b\[[0-9;]*m/g;

function firstLine(text) {
  const line = String(text ?? "")
    .replace(ANSI_COLOUR, "")
    .split("\n")
    .find((l) => l.trim());
  return (line ?? "").trim().slice(0, 300);
}

/** Returns null when there is nothing to run (no spec files, or skipped on request). */
async function runPlaywright(extraEnv) {
  const name = "playwright (e2e)";
  if (!hasSpecFiles(path.join(ROOT, "e2e"))) {
    say("e2e: no *.spec.ts files in e2e/ yet — nothing to run.");
    return null;
  }
  if (process.env.SANDBOXER_SKIP_E2E === "1") {
    say("e2e SKIPPED because SANDBOXER_SKIP_E2E=1 — the browser tests did not run.");
    return null;
  }
  if (!fs.existsSync(CHROMIUM)) {
    const problem =
      `${CHROMIUM} is missing, so the e2e tests cannot run. Install it with:\n\n` +
      `    apt-get install -y chromium      (sudo apt-get install -y chromium if not root)\n\n` +
      `or set SANDBOXER_SKIP_E2E=1 to skip the browser tests.`;
    return { name, ok: false, passed: 0, failed: 0, skipped: 0, problem };
  }

  const report = path.join(RESULTS_DIR, "playwright.json");
  fs.rmSync(report, { force: true });
  const env = { ...process.env, ...extraEnv, PLAYWRIGHT_JSON_OUTPUT_NAME: report };
  // The e2e server and its two fakes take three ports in a row (3947–3949 by default). Another
  // run on this machine may hold them: then take the next three free ones rather than fail.
  if (!env.E2E_PORT) {
    let base = 3947;
    while (!(await threeFree(base)) && base < 3947 + 300) base += 3;
    if (base !== 3947) say(`e2e: ports 3947–3949 are busy; using ${base}–${base + 2} (E2E_PORT=${base})`);
    env.E2E_PORT = String(base);
  }
  const code = await run(name, localBin("playwright"), ["test", "--reporter=list,json"], env);

  const json = readJson(report);
  const stats = json?.stats;
  if (!stats)
    return {
      name,
      ok: false,
      passed: 0,
      failed: 0,
      skipped: 0,
      problem: `exited with code ${code} and wrote no report`,
    };
  return {
    name,
    ok: code === 0,
    // "flaky" tests failed first and then passed on retry: they passed.
    passed: (stats.expected ?? 0) + (stats.flaky ?? 0),
    failed: stats.unexpected ?? 0,
    failures: playwrightFailures(json.suites ?? []),
    skipped: stats.skipped ?? 0,
    problem: code !== 0 ? `exited with code ${code}` : null,
  };
}

/** Runs a test command with our terminal as its output; resolves to its exit code. */
async function run(name, cmd, args, env) {
  say(`${name}: ${[path.relative(ROOT, cmd), ...args].join(" ")}`);
  const child = startChild(name, cmd, args, { env });
  const { code, signal, error } = await child.exited;
  if (stopping) await stopping; // interrupted: never carry on to the next step
  if (error) warn(`${name} could not start: ${error.message}`);
  return signal ? 128 : (code ?? 1);
}

async function threeFree(base) {
  for (const port of [base, base + 1, base + 2]) if (!(await isPortFree(port))) return false;
  return true;
}

function hasSpecFiles(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((e) =>
    e.isDirectory()
      ? e.name !== "node_modules" && hasSpecFiles(path.join(dir, e.name))
      : e.name.endsWith(".spec.ts"),
  );
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Summary

/** Prints each run and the closing totals line; returns the exit code. */
function summarize(runs) {
  const total = { passed: 0, failed: 0, skipped: 0 };
  process.stdout.write("\n");
  for (const r of runs) {
    for (const k of Object.keys(total)) total[k] += r[k];
    say(
      `${r.ok ? "ok  " : "FAIL"} ${r.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`,
    );
    for (const f of r.failures ?? []) warn(`     failed: ${f}`);
    if (r.problem)
      warn(`     ${r.name} ${r.problem.includes("\n") ? "problem:\n" + r.problem : r.problem}`);
  }
  const executed = total.passed + total.failed;
  if (executed === 0) warn("no tests were executed — that counts as a failure.");
  // A runner that could not run its tests (a server that did not start, a crash) has no failed
  // test to count: say so on the closing line, so it never reads as green.
  const broken = runs
    .filter((r) => !r.ok && r.failed === 0)
    .map((r) => `${r.name} did not complete`);
  const line =
    `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}` +
    (broken.length ? ` — FAILED: ${broken.join("; ")}` : "");
  process.stdout.write(`${line}\n`);
  return runs.every((r) => r.ok) && executed > 0 ? 0 : 1;
}
