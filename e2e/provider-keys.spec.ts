import { expect, test, type Page } from "@playwright/test";
import { putSecret } from "./fakes";
import { apiAs, pageAs, screenshot, trpcMutation, trpcQuery } from "./helpers";
import { users } from "./seed";

/**
 * BYOK in the console, against the OpenBao and E2B fakes e2e/serve.mjs starts. Team B (its
 * owner is an owner, so an admin) binds its own E2B key; team A's member and finance read.
 * Team B is used so team A's routing (sandboxes.spec.ts: E2B skipped) is untouched.
 */

// An E2B-shaped key (the fake accepts e2b_<hex>) that must never reach the browser.
const SENTINEL = "e2b_5e471e1ba5e0f00dcafe00112233445566778899";
const SECRET_PATH = "secret/e2e/beta/e2b";
const REF = `openbao://${SECRET_PATH}#api_key`;

/** Every document and API/RSC response body the page receives, to search for the sentinel. */
function recordResponses(page: Page) {
  const bodies: Promise<{ url: string; body: string }>[] = [];
  page.on("response", (res) => {
    const type = res.request().resourceType();
    if (type !== "document" && type !== "fetch" && type !== "xhr") return;
    bodies.push(
      res.text().then(
        (body) => ({ url: res.url(), body }),
        () => ({ url: res.url(), body: "" }),
      ),
    );
  });
  return async () => (await Promise.all(bodies)).filter((b) => b.body.includes(SENTINEL));
}

const e2bCard = (page: Page) => page.locator('[data-extension="ext.e2b"]');

test("an admin binds a team E2B key from OpenBao, sees it resolve and routing move to E2B; the key never reaches a page", async ({
  browser,
  baseURL,
}, testInfo) => {
  test.setTimeout(150_000);
  await putSecret(SECRET_PATH, { api_key: SENTINEL });
  // A reused server may still hold the binding of an earlier, interrupted run.
  const api = await apiAs(baseURL!, users.ownerB);
  await trpcMutation(api, "credentials.remove", { extensionId: "ext.e2b", field: "api_key" });

  const page = await pageAs(browser, users.ownerB);
  const leaks = recordResponses(page);
  await page.goto("/settings/api-keys");
  await page
    .getByRole("navigation", { name: "Settings" })
    .getByRole("link", { name: "Provider keys" })
    .click();
  await expect(page).toHaveURL(/\/settings\/provider-keys$/);
  await expect(e2bCard(page).getByTestId("credential-status")).toHaveText("does not resolve");
  await expect(e2bCard(page).getByTestId("credential-reason")).toContainText(
    "env:E2B_API_KEY is not set",
  );
  await expect(page.getByTestId("reference-grammar")).toContainText("openbao://mount/path#field");

  // (b) A malformed reference and a scheme this deployment refuses: errors beside the field.
  await page.getByLabel("Extension").selectOption("ext.e2b");
  await page.getByLabel("Credential field").selectOption("api_key");
  const ref = page.getByLabel("Secret reference");
  await ref.fill("openbao:/secret/e2b");
  await page.getByRole("button", { name: "Bind reference" }).click();
  await expect(ref).toHaveAttribute("aria-invalid", "true");
  // Described by the error first, then the hint (which stays on screen).
  const [errorId] = (await ref.getAttribute("aria-describedby"))!.split(" ");
  const error = page.locator(`[id="${errorId}"]`);
  await expect(error).toHaveText(/must be a secret reference: .*openbao:\/\/mount\/path#field/);
  const [inputBox, errorBox] = [await ref.boundingBox(), await error.boundingBox()];
  expect(errorBox!.y - (inputBox!.y + inputBox!.height)).toBeLessThan(24);
  expect(Math.abs(errorBox!.x - inputBox!.x)).toBeLessThan(8);
  await screenshot(page, testInfo, "provider-keys-bad-reference");
  await ref.fill("env:E2B_API_KEY");
  await page.getByRole("button", { name: "Bind reference" }).click();
  await expect(error).toHaveText(/env references are not allowed for team keys here/);
  await expect(e2bCard(page).getByTestId("team-ref")).toHaveCount(0);

  // (a) A good reference: bound, and the team's effective credentials resolve.
  await ref.fill(REF);
  await page.getByRole("button", { name: "Bind reference" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Bound api_key for E2B" })).toContainText(
    "it resolves.",
  );
  await expect(ref).not.toHaveAttribute("aria-invalid", "true");
  await expect(e2bCard(page).getByTestId("credential-status")).toHaveText("resolves");
  await expect(e2bCard(page).getByTestId("credential-source")).toContainText("your team's key");
  await expect(e2bCard(page).getByTestId("team-ref")).toHaveText(REF);
  await e2bCard(page).getByRole("button", { name: "Check E2B" }).click();
  // UTC, like every other time in the console.
  await expect(e2bCard(page).getByTestId("checked-at")).toHaveText(
    /^Checked at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\.$/,
  );
  await expect(e2bCard(page).getByTestId("credential-status")).toHaveText("resolves");
  await screenshot(page, testInfo, "provider-keys-admin");

  // The registry says the same, for this team.
  await page.getByRole("link", { name: "Profiles & extensions" }).click();
  const registryCard = page.getByRole("region", { name: "E2B" });
  await expect(registryCard.getByTestId("extension-credentials")).toContainText(
    "resolve · your team's key",
  );
  await expect(page.getByRole("table", { name: "Capabilities" })).toContainText("adapter.e2b");
  await screenshot(page, testInfo, "settings-registry-team-key");

  // The check: profile.burst-sandbox moves from the stub to the team's provider.
  await page.goto("/sandboxes/new");
  await page.getByLabel("Profile").selectOption("profile.burst-sandbox");
  await expect(page.locator('tr[data-extension="ext.e2b"]')).toContainText("chosen");
  await expect(page.locator('tr[data-extension="ext.saas-stub"]')).toContainText("fallback");
  await screenshot(page, testInfo, "create-preview-team-e2b");
  await page.getByRole("button", { name: "Create sandbox" }).click();
  await expect(page).toHaveURL(/\/sandboxes\/sbx_[a-z0-9]+$/);
  const id = page.url().split("/").pop()!;
  await expect(page.getByTestId("sandbox-state")).toContainText("ready", { timeout: 45_000 });
  const resources = page.locator("section").filter({ hasText: "Provider id" });
  await expect(resources).toContainText("e2b");
  await expect(resources).toContainText("team");

  // (c) The key itself is nowhere in the console: no page, no API or RSC response.
  for (const path of [
    `/sandboxes/${id}`,
    "/sandboxes",
    "/credits",
    "/usage",
    "/settings/api-keys",
    "/settings/members",
    "/settings/registry",
    "/settings/provider-keys",
  ]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 }).first()).toBeVisible();
    await page.waitForLoadState("networkidle");
    expect(await page.content(), path).not.toContain(SENTINEL);
  }
  await expect(e2bCard(page).getByTestId("credential-status")).toHaveText("resolves");
  expect(await (await api.get("/api/trpc/credentials.list")).text()).not.toContain(SENTINEL);

  // Teardown needs the key too: only remove it once the sandbox is gone.
  await trpcMutation(api, "sandboxes.destroy", { id });
  await expect
    .poll(async () => (await trpcQuery<{ state: string }>(api, "sandboxes.get", { id })).state, {
      timeout: 45_000,
    })
    .toBe("destroyed");

  // Remove, after confirming: back to the platform default, which is not set here.
  await e2bCard(page).getByRole("button", { name: "Remove api_key of ext.e2b" }).click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText("env:E2B_API_KEY");
  await dialog.getByRole("button", { name: "Remove reference" }).click();
  await expect(e2bCard(page).getByTestId("credential-status")).toHaveText("does not resolve");
  await expect(e2bCard(page).getByTestId("team-ref")).toHaveCount(0);
  expect(await leaks()).toEqual([]);
  await api.dispose();
  await page.context().close();
});

test("a member and a finance user see provider keys read-only, and the API refuses their writes", async ({
  browser,
}, testInfo) => {
  for (const user of [users.memberA, users.financeA]) {
    const page = await pageAs(browser, user);
    await page.goto("/settings/provider-keys");
    await expect(page.getByTestId("provider-keys-read-only")).toBeVisible();
    await expect(e2bCard(page).getByRole("table")).toContainText("env:E2B_API_KEY");
    await expect(page.locator('[data-extension="ext.modal"]')).toContainText("MODAL_TOKEN_SECRET");
    await expect(page.getByRole("button", { name: "Bind reference" })).toHaveCount(0);
    await expect(page.getByLabel("Secret reference")).toHaveCount(0);
    await expect(page.getByRole("button", { name: /^Remove/ })).toHaveCount(0);
    // Checking is a read: allowed.
    await e2bCard(page).getByRole("button", { name: "Check E2B" }).click();
    await expect(e2bCard(page).getByTestId("credential-source")).toContainText("Checked at");
    if (user === users.memberA) await screenshot(page, testInfo, "provider-keys-member");

    const bind = await page.request.post("/api/trpc/credentials.bind", {
      data: { extensionId: "ext.e2b", field: "api_key", secretRef: REF },
    });
    expect(bind.status()).toBe(403);
    const remove = await page.request.post("/api/trpc/credentials.remove", {
      data: { extensionId: "ext.e2b", field: "api_key" },
    });
    expect(remove.status()).toBe(403);
    await page.context().close();
  }
});

test("the extend control is disabled with the reason when the registry says the extension cannot extend (as for Modal)", async ({
  browser,
  baseURL,
}, testInfo) => {
  const api = await apiAs(baseURL!, users.memberA);
  const { id } = await trpcMutation<{ id: string }>(api, "sandboxes.create", {
    profile: "burst-sandbox",
  });
  await expect
    .poll(async () => (await trpcQuery<{ state: string }>(api, "sandboxes.get", { id })).state, {
      timeout: 45_000,
    })
    .toBe("ready");

  const page = await pageAs(browser, users.memberA);
  // The stub can extend; answer as the registry answers for Modal (canExtend: false).
  await page.route(/\/api\/trpc\/[^?]*registry\.list/, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    const procedures = new URL(route.request().url()).pathname.split("/").pop()!.split(",");
    const results = Array.isArray(body) ? body : [body];
    procedures.forEach((p, i) => {
      if (p !== "registry.list") return;
      for (const x of results[i].result.data.extensions)
        if (x.id === "ext.saas-stub") x.limits.canExtend = false;
    });
    await route.fulfill({ response: res, json: body });
  });
  await page.goto(`/sandboxes/${id}`);
  await expect(page.getByTestId("sandbox-state")).toContainText("ready");
  await expect(page.getByTestId("extend-unavailable")).toHaveText(
    /cannot extend a running sandbox; create a new one with a longer TTL/,
  );
  await expect(page.getByRole("button", { name: "Extend", exact: true })).toBeDisabled();
  await expect(page.getByLabel("Extend by")).toBeDisabled();
  await expect(page.getByRole("button", { name: "Destroy", exact: true })).toBeEnabled();
  await screenshot(page, testInfo, "sandbox-detail-cannot-extend");

  await trpcMutation(api, "sandboxes.destroy", { id });
  await api.dispose();
  await page.context().close();
});
