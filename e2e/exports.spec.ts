import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { parse } from "csv-parse/sync";
import { apiAs, pageAs, screenshot, trpcMutation, trpcQuery } from "./helpers";
import { users } from "./seed";

/** A sandbox of team A that ran and was destroyed, so there is a usage record to export. */
async function endedSandboxOfTeamA(baseURL: string) {
  const api = await apiAs(baseURL, users.memberA);
  const { id } = await trpcMutation<{ id: string }>(api, "sandboxes.create", {
    profile: "burst-sandbox",
  });
  const state = async () =>
    (await trpcQuery<{ state: string }>(api, "sandboxes.get", { id })).state;
  await expect.poll(state, { timeout: 45_000 }).toBe("ready");
  await trpcMutation(api, "sandboxes.destroy", { id });
  await expect.poll(state, { timeout: 45_000 }).toBe("destroyed");
  await api.dispose();
  return id;
}

/** Starts an export from the form, waits for its row to be ready, downloads it and parses it. */
async function exportAndDownload(page: Page, label: "CSV" | "FOCUS 1.2") {
  await page.getByRole("button", { name: `Export ${label}` }).click();
  const table = page.getByRole("table", { name: "Usage exports" });
  const newest = table.locator("tbody tr").first();
  await expect(newest).toHaveAttribute("data-status", "ready");
  await expect(newest).toContainText(label);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    newest.getByRole("link", { name: `Download ${label}` }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^sandboxer-(usage|focus-1\.2)-.*\.csv$/);
  const bytes = fs.readFileSync((await download.path())!);
  return { bytes, rows: parse(bytes, { bom: true, columns: true }) as Record<string, string>[] };
}

test("a finance user downloads CSV and FOCUS exports from the console", async ({
  browser,
  baseURL,
}, testInfo) => {
  const sandboxId = await endedSandboxOfTeamA(baseURL!);
  const page = await pageAs(browser, users.financeA);
  await page.getByRole("link", { name: "Exports" }).click();
  await expect(page.getByRole("heading", { name: "Exports", level: 1 })).toBeVisible();
  await expect(page.getByRole("heading", { name: "fin-hub delivery" })).toBeVisible();

  // The filters are the registry's extensions and profiles, so a wrong value cannot be typed;
  // an impossible range is said in words beside the field and nothing is asked of the API.
  const extension = page.getByLabel("Extension");
  await expect(extension.locator('option[value="ext.saas-stub"]')).toHaveCount(1);
  const profile = page.getByLabel("Profile");
  await expect(profile.locator('option[value="profile.burst-sandbox"]')).toHaveCount(1);
  const to = page.getByLabel("To");
  const toValue = await to.inputValue();
  await to.fill("2000-01-01");
  await expect(to).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("The end date is before the start date.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Export CSV" })).toBeDisabled();
  await expect(page.getByText(/`from`|must be before/)).toHaveCount(0);
  await to.fill(toValue);
  await expect(to).not.toHaveAttribute("aria-invalid", "true");

  const csv = await exportAndDownload(page, "CSV");
  expect(csv.bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  const row = csv.rows.find((r) => r.sandbox_id === sandboxId);
  expect(row, `${sandboxId} in the CSV`).toBeDefined();
  expect(row!.cost).toMatch(/^\d+\.\d{6}$/);
  expect(BigInt(row!.cost_micros!)).toBeGreaterThanOrEqual(0n);

  const focus = await exportAndDownload(page, "FOCUS 1.2");
  const f = focus.rows.find((r) => r.ResourceId === sandboxId);
  expect(f, `${sandboxId} in the FOCUS file`).toBeDefined();
  expect(f!.BilledCost).toBe(row!.cost);
  expect(f!.ChargeCategory).toBe("Usage");
  expect(f!.BillingCurrency).toBe("USD");
  expect(f!.ChargePeriodStart).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  await screenshot(page, testInfo, "exports-finance");
});

test("a member cannot export: no controls, and the API and download refuse", async ({
  browser,
  baseURL,
}) => {
  // An export made by finance, which the member then tries to fetch directly.
  const finance = await apiAs(baseURL!, users.financeA);
  const made = await trpcMutation<{ id: string; downloadUrl: string | null }>(
    finance,
    "usage.export",
    { format: "csv" },
  );
  await finance.dispose();

  const page = await pageAs(browser, users.memberA);
  await page.goto("/exports");
  await expect(page.getByText("Your role cannot export usage")).toBeVisible();
  await expect(page.getByRole("button", { name: /Export (CSV|FOCUS)/ })).toHaveCount(0);
  // Usage has no side door: the same rule and words there.
  await page.goto("/usage");
  await expect(page.getByTestId("usage-export-refused")).toContainText(
    "Your role cannot export usage.",
  );
  await expect(page.getByRole("button", { name: "Export CSV" })).toHaveCount(0);

  const start = await page.request.post("/api/trpc/usage.export", { data: { format: "csv" } });
  expect(start.status()).toBe(403);
  const download = await page.request.get(`/api/exports/${made.id}`);
  expect(download.status()).toBe(403);
  expect(await download.text()).not.toContain("sandbox_id");
});
