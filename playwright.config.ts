import { defineConfig } from "@playwright/test";
import { E2B_URL, OPENBAO_TOKEN, OPENBAO_URL } from "./e2e/fakes";

/**
 * End-to-end tests of the console in Debian's Chromium against the production web server (`npm start`; see e2e/serve.mjs).
 * One worker: the server runs an embedded single-connection database, and the suite is short.
 */
const PORT = Number(process.env.E2E_PORT ?? 3947);
const baseURL = `http://127.0.0.1:${PORT}`;
const CI = Boolean(process.env.CI);

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/e2e",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: CI ? 1 : 0,
  forbidOnly: CI,
  reporter: CI
    ? "list"
    : [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL,
    headless: true,
    viewport: { width: 1400, height: 900 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  projects: [
    // Users and teams are made over HTTP once the server is up, before any spec runs.
    { name: "seed", testMatch: /seed\.setup\.ts/ },
    { name: "console", testMatch: /.*\.spec\.ts/, dependencies: ["seed"] },
  ],
  webServer: {
    command: "node e2e/serve.mjs",
    // Where serve.mjs starts the OpenBao and E2B fakes (e2e/fakes.ts), so specs can reach them.
    env: { E2E_OPENBAO_URL: OPENBAO_URL, E2E_OPENBAO_TOKEN: OPENBAO_TOKEN, E2E_E2B_URL: E2B_URL },
    // /api/health opens the database and Redis, so the first test does not pay for it.
    url: `${baseURL}/api/health`,
    timeout: 300_000,
    reuseExistingServer: !CI && process.env.E2E_REUSE_SERVER === "1",
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
  },
});
