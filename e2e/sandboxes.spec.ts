import { expect, test } from "@playwright/test";
import { apiAs, pageAs, screenshot, signIn, trpcQuery, type SandboxList } from "./helpers";
import { users } from "./seed";

test("a member creates a sandbox, watches it become ready, extends and destroys it, and sees the debit", async ({
  page,
}, testInfo) => {
  await signIn(page, users.memberA);
  await page.getByRole("link", { name: "New sandbox" }).click();
  await expect(page).toHaveURL(/\/sandboxes\/new$/);

  await page.getByLabel("Profile").selectOption("profile.burst-sandbox");
  // The preview: an estimate per eligible provider, routing's choice, why others are skipped.
  const stub = page.locator('tr[data-extension="ext.saas-stub"]');
  await expect(stub).toContainText("chosen");
  await expect(stub).toContainText("$");
  await expect(page.locator('tr[data-extension="ext.e2b"]')).toContainText("skipped");
  await expect(page.getByTestId("preview-after-hold")).toHaveText(/^\$\d/);
  await screenshot(page, testInfo, "create-sandbox");

  // A double click creates one sandbox: the button stays pending from the first click until the
  // new sandbox's page has replaced the form, and the form's idempotency key covers a retry.
  const before = await trpcQuery<SandboxList>(page.request, "sandboxes.list", { limit: 200 });
  const creates: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/trpc/sandboxes.create")) creates.push(r.postData() ?? "");
  });
  await page.getByRole("button", { name: "Create sandbox" }).dblclick();
  await expect(page).toHaveURL(/\/sandboxes\/sbx_[a-z0-9]+$/);
  const id = page.url().split("/").pop()!;
  expect(creates).toHaveLength(1);
  expect(creates[0]).toMatch(/"idempotencyKey":"[0-9a-f-]{36}"/);
  const after = await trpcQuery<SandboxList>(page.request, "sandboxes.list", { limit: 200 });
  expect(after.items.length).toBe(before.items.length + 1);

  // A marker on window survives only if the page is never reloaded.
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  await expect(page.getByTestId("sandbox-state")).toContainText("ready", { timeout: 45_000 });
  expect(
    await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload),
  ).toBe(true);
  await expect(page.getByTestId("sandbox-ttl-left")).toHaveText(/\d+m \d+s|\d+s/);
  await expect(page.getByRole("table", { name: "Routing decision" })).toContainText("chosen");
  await screenshot(page, testInfo, "sandbox-detail-ready");

  // burst-sandbox allows at most an hour: +1 hour on a 5-minute sandbox is offered disabled, with
  // the reason, rather than left to fail.
  await expect(page.getByRole("option", { name: /\+1 hour/ })).toBeDisabled();
  await expect(page.getByTestId("extend-limit")).toContainText("at most 1h 00m");
  await page.getByLabel("Extend by").selectOption("300");
  await page.getByRole("button", { name: "Extend", exact: true }).click();
  // The same duration format as the Lifetime card.
  await expect(page.getByRole("status").filter({ hasText: "Extended" })).toContainText(
    "the TTL is now 10m 00s",
  );
  await expect(page.locator('[data-event-kind="extended"]')).toBeVisible();

  await page.getByRole("button", { name: "Destroy", exact: true }).click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText(`Destroy ${id}?`);
  await dialog.getByRole("button", { name: "Destroy sandbox" }).click();
  await expect(page.getByTestId("sandbox-state")).toContainText("destroyed", { timeout: 45_000 });
  await expect(page.getByText("final cost")).toBeVisible();
  await screenshot(page, testInfo, "sandbox-detail-destroyed");

  await page.getByRole("link", { name: "Credits" }).click();
  await expect(page.locator(`tr[data-kind="debit"][data-sandbox-id="${id}"]`)).toBeVisible();
  await screenshot(page, testInfo, "credits-after-debit");

  // The list filters by state at once, with the filter in the URL.
  await page.getByRole("link", { name: "Sandboxes" }).click();
  const row = page.locator(`tr[data-sandbox-id="${id}"]`);
  await expect(row).toContainText("destroyed");
  await page.getByLabel("State").selectOption("active");
  await expect(page).toHaveURL(/state=active/);
  await expect(row).toHaveCount(0);
  await page.getByLabel("State").selectOption("destroyed");
  await expect(row).toBeVisible();
  // Each filter change is a history entry, and a reload keeps the filter.
  await page.goBack();
  await expect(page).toHaveURL(/state=active/);
  await expect(page.getByLabel("State")).toHaveValue("active");
  await page.reload();
  await expect(page.getByLabel("State")).toHaveValue("active");

  // A filter value the list does not know is ignored and said so in plain words, not sent to
  // the API to come back as a validation error that no retry can fix.
  await page.goto("/sandboxes?state=bogus");
  await expect(page.getByTestId("ignored-filters")).toHaveText(
    "State “bogus” in the address is not known here, so it is ignored.",
  );
  await expect(page.getByLabel("State")).toHaveValue("");
  await expect(row).toBeVisible();
  await expect(page.getByText(/Invalid option|expected one of/)).toHaveCount(0);
  await page.getByRole("button", { name: "Remove from the address" }).click();
  await expect(page).toHaveURL(/\/sandboxes$/);
  await expect(page.getByTestId("ignored-filters")).toHaveCount(0);
});

test("a TTL above the profile maximum shows the error beside the field and creates nothing", async ({
  browser,
  baseURL,
}, testInfo) => {
  const api = await apiAs(baseURL!, users.memberA);
  const before = await trpcQuery<SandboxList>(api, "sandboxes.list", { limit: 200 });

  const page = await pageAs(browser, users.memberA);
  await page.goto("/sandboxes/new");
  await page.getByLabel("Profile").selectOption("profile.burst-sandbox");
  const ttl = page.getByLabel("Time to live (seconds)");
  await ttl.fill("7200");
  await page.getByRole("button", { name: "Create sandbox" }).click();

  await expect(ttl).toHaveAttribute("aria-invalid", "true");
  // The error first, then the hint with the default and maximum, which stays on screen.
  const [errorId, hintId] = (await ttl.getAttribute("aria-describedby"))!.split(" ");
  const error = page.locator(`[id="${errorId}"]`);
  await expect(error).toHaveText("Enter at most 3600 seconds (1h 00m) for this profile.");
  await expect(page.locator(`[id="${hintId}"]`)).toContainText("maximum 3600s");
  // A pasted 20-digit number gets the same words, not a rounded 1e20 or billions of hours.
  await ttl.fill("99999999999999999999");
  await expect(error).toHaveText("Enter at most 3600 seconds (1h 00m) for this profile.");
  await expect(page.locator(`[id="${hintId}"]`)).toHaveText(
    "Default 300s, maximum 3600s (1h 00m).",
  );
  await ttl.fill("7200");
  // Beside the field: directly under the input, not in a banner elsewhere on the page.
  const [inputBox, errorBox] = [await ttl.boundingBox(), await error.boundingBox()];
  expect(errorBox!.y - (inputBox!.y + inputBox!.height)).toBeLessThan(24);
  expect(Math.abs(errorBox!.x - inputBox!.x)).toBeLessThan(8);
  await screenshot(page, testInfo, "create-ttl-too-long");

  await expect(page).toHaveURL(/\/sandboxes\/new$/);

  // A TTL that is not a number is flagged beside the field as it is typed, before any submit,
  // and the estimate panel points at that highlighted field rather than at nothing.
  await ttl.fill("12x");
  await expect(ttl).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator(`[id="${errorId}"]`)).toHaveText(
    "Enter a whole number of seconds above 0.",
  );
  await expect(page.getByText("Fix the highlighted field to see the estimate.")).toBeVisible();
  await ttl.fill("1e3"); // a number to JavaScript, not a whole number of seconds to a person
  await expect(ttl).toHaveAttribute("aria-invalid", "true");
  // Fixed: the error goes and the estimate for the new value comes back.
  await ttl.fill("600");
  await expect(ttl).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("preview-hold")).toBeVisible();

  const after = await trpcQuery<SandboxList>(api, "sandboxes.list", { limit: 200 });
  expect(after.items.map((s) => s.id)).toEqual(before.items.map((s) => s.id));
  await api.dispose();
  await page.context().close();
});
