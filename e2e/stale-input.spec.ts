import { expect, test } from "@playwright/test";
import { pageAs, screenshot, trpcQuery } from "./helpers";
import { users } from "./seed";

/** What a newcomer or a hostile user sends that the pages once handled badly. */

test("a tab still showing one team cannot act on the team another tab switched to", async ({
  browser,
}, testInfo) => {
  const stale = await pageAs(browser, users.ownerA);
  await expect(stale.getByRole("button", { name: /Team: Acme Research/ })).toBeVisible();
  await stale.goto("/settings/api-keys");
  await expect(stale.getByRole("heading", { name: "Create an API key" })).toBeVisible();

  // The same browser (one session), another tab: switch to team B, where A's owner is a member.
  const other = await stale.context().newPage();
  await other.goto("/sandboxes");
  await other.getByRole("button", { name: /Switch team/ }).click();
  await other.getByRole("menuitem", { name: /Beta Labs/ }).click();
  await expect(other.getByRole("button", { name: /Team: Beta Labs/ })).toBeVisible();

  try {
    // The first tab still says Acme Research; what it does must not land in Beta Labs.
    await expect(stale.getByRole("button", { name: /Team: Acme Research/ })).toBeVisible();
    await stale.getByLabel("Key name").fill("stale-tab-key");
    await stale.getByRole("button", { name: "Create key" }).click();
    await expect(stale.getByRole("alert").filter({ hasText: /active team changed/ })).toContainText(
      "Reload the page to continue.",
    );
    await screenshot(stale, testInfo, "stale-team-tab");
    const keys = await trpcQuery<{ name: string | null }[]>(stale.request, "apiKeys.list", {});
    expect(keys.map((k) => k.name)).not.toContain("stale-tab-key");

    // Reloading shows the team the session is on, and then it works there.
    await stale.reload();
    await expect(stale.getByRole("button", { name: /Team: Beta Labs/ })).toBeVisible();
  } finally {
    // Leave the shared session on team A for the other specs.
    await other.getByRole("button", { name: /Switch team/ }).click();
    await other.getByRole("menuitem", { name: /Acme Research/ }).click();
    await expect(other.getByRole("button", { name: /Team: Acme Research/ })).toBeVisible();
    await stale.context().close();
  }
});

test("a usage range the address gets wrong is ignored with a note, and the last days load", async ({
  browser,
}, testInfo) => {
  const p = await pageAs(browser, users.financeA);
  const errors: string[] = [];
  p.on("pageerror", (e) => errors.push(e.message));
  await p.goto("/usage?from=2026-11-01&to=2026-13-45");
  await expect(p.getByTestId("ignored-range")).toHaveText(
    "The end date “2026-13-45” in the address is not a date here, so it is ignored.",
  );
  await expect(p.getByLabel("From")).toHaveValue("2026-11-01");
  await expect(p.getByText("Usage records", { exact: true })).toBeVisible();
  await expect(p.getByText("This page could not be loaded")).toHaveCount(0);
  await screenshot(p, testInfo, "usage-ignored-range");
  await p.getByRole("button", { name: "Remove from the address" }).click();
  await expect(p).toHaveURL(/\/usage\?from=2026-11-01$/);
  await expect(p.getByTestId("ignored-range")).toHaveCount(0);

  // The date fields offer days up to 9999-12-31; the records must load for them too.
  await p.goto("/usage?from=9999-12-01&to=9999-12-31");
  await expect(p.getByTestId("usage-total-count")).toHaveText("0");
  await expect(p.getByText("No usage in this range", { exact: true })).toBeVisible();
  await expect(p.getByText(/must be a date such as/)).toHaveCount(0);

  // The same last days as an export: it is made (empty), not refused with a date-format message.
  await p.goto("/exports");
  await p.getByLabel("From").fill("9999-12-01");
  await p.getByLabel("To").fill("9999-12-31");
  await p.getByRole("button", { name: "Export CSV" }).click();
  const newest = p.getByRole("table", { name: "Usage exports" }).locator("tbody tr").first();
  await expect(newest).toHaveAttribute("data-status", "ready");
  await expect(newest).toContainText("9999-12-01");
  await expect(p.getByLabel("To")).not.toHaveAttribute("aria-invalid", "true");
  expect(errors).toEqual([]);
  await p.context().close();
});

test("sign-up says beside the field what is wrong with an over-long or control-character name or email", async ({
  page: p,
}) => {
  await p.goto("/sign-up");
  await p.getByLabel("Name").fill("N".repeat(101));
  await p.getByLabel("Email").fill(`${"e".repeat(200)}@e2e.test`);
  await p.getByLabel("Password").fill("correct-horse-battery");
  await p.getByRole("button", { name: "Create account" }).click();
  await expect(p.getByLabel("Name")).toHaveAttribute("aria-invalid", "true");
  await expect(p.getByText("Use at most 100 characters.")).toBeVisible();
  await expect(p.getByText("Use at most 200 characters.")).toBeVisible();
  await p.getByLabel("Name").fill("Tab\there");
  await p.getByLabel("Email").fill("tabbed@e2e.test");
  await p.getByRole("button", { name: "Create account" }).click();
  await expect(p.getByText("Remove line breaks, tabs and other control characters.")).toBeVisible();
  await expect(p.getByText("Something went wrong")).toHaveCount(0);
  await expect(p).toHaveURL(/\/sign-up$/);
});
