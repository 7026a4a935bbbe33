import { expect, test } from "@playwright/test";
import { pageAs, screenshot } from "./helpers";
import { storageStateOf, users } from "./seed";

test("the sign-in page, a wrong password, and a deep link that survives signing in", async ({
  page,
}, testInfo) => {
  await page.goto("/sandboxes");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fsandboxes$/);
  // A page opened while signed out is where signing in lands.
  await page.goto("/usage?from=2026-01-01&to=2026-01-07");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fusage%3Ffrom%3D2026-01-01%26to%3D2026-01-07$/);
  await page.getByLabel("Email").fill(users.ownerA.email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  // Next.js's route announcer is role=alert too, and says the page title once it has one.
  await expect(page.locator('[role="alert"]:not(#__next-route-announcer__)')).toHaveText(
    "Email or password is incorrect.",
  );
  await screenshot(page, testInfo, "sign-in");
  await page.getByLabel("Password").fill(users.ownerA.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/usage\?from=2026-01-01&to=2026-01-07$/);
  await expect(page.getByLabel("From")).toHaveValue("2026-01-01");
});

test("an owner's main pages, an API key shown once, and switching teams", async ({
  browser,
  baseURL,
}, testInfo) => {
  const page = await pageAs(browser, users.ownerA);
  await expect(page.getByRole("heading", { name: "Sandboxes", level: 1 })).toBeVisible();
  await screenshot(page, testInfo, "sandboxes");

  await page.goto("/credits");
  await expect(page.getByRole("heading", { name: "Top up" })).toBeVisible();
  await page.getByLabel("Amount (USD)").fill("abc");
  await page.getByRole("button", { name: "Add credits" }).click();
  await expect(page.getByLabel("Amount (USD)")).toHaveAttribute("aria-invalid", "true");
  await page.getByLabel("Amount (USD)").fill("10");
  await page.getByRole("button", { name: "Add credits" }).click();
  await expect(page.getByText(/Added \$10\.00\. Balance is now \$[\d,]+\.\d\d/)).toBeVisible();
  await screenshot(page, testInfo, "credits-owner");

  await page.goto("/usage");
  await expect(page.getByRole("heading", { name: "Sandbox-hours by day" })).toBeVisible();
  await screenshot(page, testInfo, "usage");

  await page.goto("/settings/members");
  await expect(page.getByRole("table", { name: "Members" })).toContainText(users.financeA.email);
  await screenshot(page, testInfo, "settings-members");
  // A role select saves at once, and says so.
  const financeRole = page.getByLabel(`Role of ${users.financeA.email}`);
  await financeRole.selectOption("admin");
  await expect(page.getByTestId("member-change")).toHaveText(
    `${users.financeA.name} is now admin.`,
  );
  await financeRole.selectOption("finance");
  await expect(page.getByTestId("member-change")).toHaveText(
    `${users.financeA.name} is now finance.`,
  );

  // Signed in already: the sign-up page sends you on, as the sign-in page does.
  await page.goto("/sign-up");
  await expect(page).toHaveURL(/\/sandboxes$/);

  await page.goto("/settings/registry");
  await expect(page.getByRole("table", { name: "Profiles" })).toContainText(
    "profile.burst-sandbox",
  );
  await expect(page.getByText(/not set/).first()).toBeVisible();
  await screenshot(page, testInfo, "settings-registry");

  // API key: shown once, works as a Bearer token, gone after dismissing, dead after revoking.
  await page.goto("/settings/api-keys");
  await page.getByLabel("Key name").fill("e2e-key");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.getByTestId("new-api-key").inputValue();
  expect(key).toMatch(/^sbxk_/);
  await screenshot(page, testInfo, "settings-api-key-created");
  const asKey = { headers: { authorization: `Bearer ${key}` } };
  expect((await page.request.get(`${baseURL}/api/trpc/teams.current`, asKey)).status()).toBe(200);
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.reload();
  await expect(page.getByRole("table", { name: "API keys" })).toContainText("e2e-key");
  // Only the key's first characters are stored; with the time it was made they tell keys apart.
  await expect(page.getByTestId("api-key-start").first()).toHaveText(/^sbxk_[A-Za-z0-9_-]{7}… · \d{4}-.* UTC$/);
  expect(await page.content()).not.toContain(key);
  await page.getByRole("button", { name: "Revoke e2e-key" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByRole("table", { name: "API keys" })).toHaveCount(0);
  expect((await page.request.get(`${baseURL}/api/trpc/teams.current`, asKey)).status()).toBe(401);

  // Team A's owner is a plain member of team B.
  await page.getByRole("button", { name: /Switch team/ }).click();
  await page.getByRole("menuitem", { name: /Beta Labs/ }).click();
  await expect(page.getByRole("button", { name: /Team: Beta Labs/ })).toBeVisible();
  await expect(page.getByTestId("current-role")).toHaveText("member");
  await page.getByRole("button", { name: /Switch team/ }).click();
  await page.getByRole("menuitem", { name: /Acme Research/ }).click();
  await expect(page.getByTestId("current-role")).toHaveText("owner");

  await page.goto("/no-such-page");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await screenshot(page, testInfo, "not-found");
  await page.context().close();
});

test("a new person signs up, creates a team and lands on an empty sandboxes list", async ({
  page,
}, testInfo) => {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill("Nora New");
  await page.getByLabel("Email").fill("nora@e2e.test");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByText("Use at least 8 characters.")).toBeVisible();
  await page.getByLabel("Password").fill("a-long-enough-password");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL(/\/onboarding$/);
  await screenshot(page, testInfo, "onboarding");
  await page.getByLabel("Team name").fill("Nora's Lab");
  await page.getByRole("button", { name: "Create team" }).click();
  await expect(page).toHaveURL(/\/sandboxes$/);
  await expect(page.getByRole("button", { name: /Team: Nora's Lab/ })).toBeVisible();
  await expect(page.getByText("No sandboxes yet")).toBeVisible();
  await expect(page.getByTestId("current-role")).toHaveText("owner");

  // No credits yet: Create is disabled with the reason, and an owner is pointed at Credits
  // rather than told to ask an admin.
  await page.getByRole("link", { name: "Create a sandbox" }).click();
  await expect(page.getByTestId("preview-short")).toContainText("Not enough credits");
  await expect(page.getByRole("button", { name: "Create sandbox" })).toBeDisabled();
  await expect(page.locator("#create-blocked")).toContainText("Not enough credits");
  await expect(page.getByRole("link", { name: "Top up on Credits" })).toHaveAttribute(
    "href",
    "/credits",
  );
  await expect(page.getByText(/Ask an (owner or )?admin/)).toHaveCount(0);
});

test("at 390 px no page scrolls sideways and the menu has every page; at 1280 px tables fit", async ({
  browser,
}, testInfo) => {
  const pages = [
    "/sandboxes",
    "/sandboxes/new",
    "/credits",
    "/usage",
    "/exports",
    "/settings/members",
    "/settings/registry",
  ];
  const context = await browser.newContext({
    storageState: storageStateOf(users.ownerA),
    viewport: { width: 390, height: 844 },
  });
  const phone = await context.newPage();
  for (const path of pages) {
    await phone.goto(path);
    await expect(phone.locator("h1").first()).toBeVisible();
    await phone.waitForLoadState("networkidle");
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    expect(width, `${path} at 390 px`).toBeLessThanOrEqual(390);
  }
  await screenshot(phone, testInfo, "narrow-registry");
  // Every settings tab is in sight (the bar wraps rather than hiding the last ones off-screen).
  const tabs = phone.getByRole("navigation", { name: "Settings" }).getByRole("link");
  expect(await tabs.count()).toBe(5);
  for (const box of await tabs.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect)))
    expect(box.right).toBeLessThanOrEqual(390);
  // The create page's hold, available and left-after amounts each fit their own cell.
  await phone.goto("/sandboxes/new");
  await expect(phone.getByTestId("preview-hold")).toBeVisible();
  const cells = await phone
    .getByTestId("preview-hold")
    .locator("xpath=ancestor::dl[1]//dd")
    .evaluateAll((els) => els.map((e) => ({ text: e.textContent, over: e.scrollWidth > e.clientWidth })));
  expect(cells).toHaveLength(3);
  for (const cell of cells) expect(cell.over, `${cell.text} overflows its cell`).toBe(false);
  // The sidebar's pages, team and account are in a menu below the md breakpoint.
  await phone.getByRole("button", { name: "Open menu" }).click();
  const menu = phone.getByRole("dialog");
  for (const name of ["Sandboxes", "Credits", "Usage", "Exports", "Settings"])
    await expect(menu.getByRole("link", { name })).toBeVisible();
  await expect(menu.getByTestId("current-role")).toHaveText("owner");
  await expect(menu.getByRole("button", { name: "Sign out" })).toBeVisible();
  await screenshot(phone, testInfo, "narrow-menu");
  await menu.getByRole("link", { name: "Exports" }).click();
  await expect(phone).toHaveURL(/\/exports$/);
  await expect(phone.getByRole("dialog")).toHaveCount(0);
  await context.close();

  // At 1280 px every table fits its card: nothing is cut off behind a sideways scroll.
  const wide = await browser.newContext({
    storageState: storageStateOf(users.ownerA),
    viewport: { width: 1280, height: 900 },
  });
  const desk = await wide.newPage();
  const widePages = ["/sandboxes", "/credits", "/usage", "/exports", "/settings/members"];
  for (const path of widePages) {
    await desk.goto(path);
    await expect(desk.locator("h1").first()).toBeVisible();
    await desk.waitForLoadState("networkidle");
    const overflowing = await desk.evaluate(() =>
      [...document.querySelectorAll("table")]
        .map((t) => t.parentElement!)
        .filter((box) => box.scrollWidth > box.clientWidth + 1)
        .map((box) => box.querySelector("table")!.getAttribute("aria-label")),
    );
    expect(overflowing, `tables cut off on ${path} at 1280 px`).toEqual([]);
    const width = await desk.evaluate(() => document.documentElement.scrollWidth);
    expect(width, `${path} at 1280 px`).toBeLessThanOrEqual(1280);
  }
  await wide.close();
});

test("a failing API shows a plain message and a retry, never the server's text", async ({
  browser,
}, testInfo) => {
  const page = await pageAs(browser, users.financeA);
  // Whatever a broken proxy or server sends back must not reach the screen.
  await page.route("**/api/trpc/credits.ledger**", (route) =>
    route.fulfill({
      status: 502,
      contentType: "text/plain",
      body: "Error: ECONNREFUSED at Socket.connect (/srv/app/node_modules/pg/lib/client.js:42)",
    }),
  );
  await page.goto("/credits");
  const error = page.getByRole("alert").filter({ hasText: "Could not load the ledger" });
  await expect(error).toBeVisible();
  await expect(error.getByRole("button", { name: "Try again" })).toBeVisible();
  await expect(page.getByText(/ECONNREFUSED|node_modules/)).toHaveCount(0);
  await screenshot(page, testInfo, "error-state");
  await page.context().close();
});

test("metrics answer only a scraper with the metrics token", async ({ request }) => {
  const token = process.env.E2E_METRICS_TOKEN ?? "e2e-metrics-token-0123456789abcdef";
  const none = await request.get("/api/metrics");
  expect(none.status()).toBe(401);
  expect(await none.text()).not.toContain("sandboxer_");
  const wrong = await request.get("/api/metrics", { headers: { authorization: "Bearer nope" } });
  expect(wrong.status()).toBe(401);
  const ok = await request.get("/api/metrics", { headers: { authorization: `Bearer ${token}` } });
  expect(ok.status()).toBe(200);
  expect(await ok.text()).toMatch(/^# HELP sandboxer_/m);
});

test("an oversized request body is refused with 413 before it reaches the API or sign-in", async ({
  request,
}) => {
  const big = JSON.stringify({ json: { profile: "burst-sandbox", ttlSeconds: 60, pad: "x".repeat(2 * 1024 * 1024) } });
  const api = await request.post("/api/trpc/sandboxes.create", {
    data: big,
    headers: { "content-type": "application/json" },
  });
  expect(api.status()).toBe(413);
  expect((await api.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
  const auth = await request.post("/api/auth/sign-up/email", {
    data: JSON.stringify({ email: "big@example.test", password: "correct-horse-battery", name: "n".repeat(100_000) }),
    headers: { "content-type": "application/json" },
  });
  expect(auth.status()).toBe(413);
  // A batch of more calls than the API takes at once is refused whole, before any call runs.
  const batch = (n: number) =>
    `/api/trpc/${Array.from({ length: n }, () => "profiles.list").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`;
  expect((await request.get(batch(26))).status()).toBe(400);
  expect((await request.get(batch(25))).status()).not.toBe(400);
});

test("the auth rate limit keys on the socket, not on an X-Forwarded-For the client writes", async ({
  playwright,
  baseURL,
}) => {
  // /change-password has the same limit as sign-in (3 in 10 s per client) and no other spec
  // uses it, so this bucket is this test's alone.
  const api = await playwright.request.newContext({ baseURL });
  const statuses: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const res = await api.post("/api/auth/change-password", {
      headers: { origin: baseURL!, "x-forwarded-for": `10.9.0.${i}` },
      data: { currentPassword: "whatever-it-is", newPassword: "something-new-1" },
    });
    statuses.push(res.status());
  }
  expect(statuses.slice(0, 3)).not.toContain(429);
  expect(statuses.slice(3)).toEqual([429, 429]);
  await api.dispose();
});
