import { expect, test } from "@playwright/test";
import { apiAs, pageAs, screenshot, trpcMutation, trpcQuery, type SandboxList } from "./helpers";
import { users } from "./seed";

/** A sandbox of team A made through the API by its member, waited on until `until`. */
async function sandboxOfTeamA(baseURL: string, until: "ready" | "destroyed") {
  const api = await apiAs(baseURL, users.memberA);
  const { id } = await trpcMutation<{ id: string }>(api, "sandboxes.create", {
    profile: "burst-sandbox",
  });
  const waitFor = async (state: string) =>
    expect
      .poll(async () => (await trpcQuery<{ state: string }>(api, "sandboxes.get", { id })).state, {
        timeout: 45_000,
      })
      .toBe(state);
  await waitFor("ready");
  if (until === "destroyed") {
    await trpcMutation(api, "sandboxes.destroy", { id });
    await waitFor("destroyed");
  }
  await api.dispose();
  return id;
}

test("finance sees usage and credits, has no create or destroy control, and a direct create is refused", async ({
  browser,
  baseURL,
}, testInfo) => {
  const ended = await sandboxOfTeamA(baseURL!, "destroyed");
  const running = await sandboxOfTeamA(baseURL!, "ready");

  const page = await pageAs(browser, users.financeA);
  await expect(page.getByTestId("current-role")).toHaveText("finance");
  await expect(page.locator(`tr[data-sandbox-id="${running}"]`)).toBeVisible();
  await expect(page.getByRole("link", { name: /new sandbox|create a sandbox/i })).toHaveCount(0);

  await page.goto(`/sandboxes/${running}`);
  await expect(page.getByTestId("sandbox-state")).toContainText("ready");
  await expect(page.getByRole("button", { name: /destroy|extend/i })).toHaveCount(0);

  await page.goto("/sandboxes/new");
  await expect(page.getByText("Your role cannot create sandboxes")).toBeVisible();
  await expect(page.getByRole("button", { name: "Create sandbox" })).toHaveCount(0);

  // The API refuses too, whatever the page shows: same cookie, straight to the procedure.
  const before = await trpcQuery<SandboxList>(page.request, "sandboxes.list", { limit: 200 });
  const create = await page.request.post("/api/trpc/sandboxes.create", {
    data: { profile: "burst-sandbox" },
  });
  expect(create.status()).toBe(403);
  expect((await create.json()).error.data.code).toBe("FORBIDDEN");
  const destroy = await page.request.post("/api/trpc/sandboxes.destroy", { data: { id: running } });
  expect(destroy.status()).toBe(403);
  const after = await trpcQuery<SandboxList>(page.request, "sandboxes.list", { limit: 200 });
  expect(after.items.length).toBe(before.items.length);

  await page.getByRole("link", { name: "Usage" }).click();
  await expect(page.getByRole("heading", { name: "Usage", level: 1 })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Cost by day" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Cost by extension" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Usage records" })).toContainText(ended);
  await expect(page.getByTestId("usage-total-cost")).toHaveText(/^\$\d/);
  await screenshot(page, testInfo, "usage-finance");

  // An end before the start: the error beside To, dashes instead of figures, and no records of a
  // range the server just refused (nothing left loading forever).
  const to = page.getByLabel("To");
  const toValue = await to.inputValue();
  const later = new Date(Date.parse(`${toValue}T00:00:00Z`) + 9 * 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel("From").fill(later);
  await expect(to).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator(`[id="${await to.getAttribute("aria-describedby")}"]`)).toHaveText(/is before the start date/);
  await expect(page.getByTestId("usage-total-cost")).toHaveCount(0);
  await expect(page.getByText("Choose a valid date range to see the usage records.")).toBeVisible();
  await expect(page.getByRole("table", { name: "Usage records" })).toHaveCount(0);
  await page.getByRole("button", { name: "Last 30 days" }).click();
  await expect(page.getByTestId("usage-total-cost")).toHaveText(/^\$\d/);
  // The range is in the address: a reload keeps it, Back returns to the one before, and the
  // range a bare /usage shows is one of the presets.
  await page.getByRole("button", { name: "Last 7 days" }).click();
  await expect(page).toHaveURL(/\/usage\?from=\d{4}-\d{2}-\d{2}&to=\d{4}-\d{2}-\d{2}$/);
  await page.reload();
  await expect(page.getByRole("button", { name: "Last 7 days" })).toHaveAttribute(
    "aria-pressed",
    "true",
  );
  await page.goBack();
  await expect(page.getByRole("button", { name: "Last 30 days" })).toHaveAttribute(
    "aria-pressed",
    "true",
  );
  await page.goto("/usage");
  await expect(page.getByRole("button", { name: "Last 30 days" })).toHaveAttribute(
    "aria-pressed",
    "true",
  );

  // Finance changes nobody's role: no empty actions column on Members.
  await page.goto("/settings/members");
  await expect(page.getByRole("table", { name: "Members" })).toContainText(users.financeA.email);
  await expect(page.getByRole("columnheader")).toHaveCount(4);

  await page.getByRole("link", { name: "Credits" }).click();
  await expect(page.getByTestId("credits-balance")).toHaveText(/^\$\d/);
  await expect(page.getByRole("table", { name: "Current holds" })).toContainText(running);
  await expect(page.getByRole("heading", { name: "Top up" })).toHaveCount(0);
  await screenshot(page, testInfo, "credits-finance");
  await page.context().close();
});

test("a user of another team opening a sandbox URL of the first team gets the 404 page", async ({
  browser,
  baseURL,
}, testInfo) => {
  const id = await sandboxOfTeamA(baseURL!, "ready");
  const page = await pageAs(browser, users.ownerB);
  await expect(page.locator(`tr[data-sandbox-id="${id}"]`)).toHaveCount(0);

  const response = await page.goto(`/sandboxes/${id}`);
  expect(response?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page.getByText(id)).toHaveCount(0);
  await screenshot(page, testInfo, "not-found-other-team");

  const res = await page.request.get(
    `/api/trpc/sandboxes.get?input=${encodeURIComponent(JSON.stringify({ id }))}`,
  );
  expect(res.status()).toBe(404);
  await page.context().close();
});
