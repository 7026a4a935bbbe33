import fs from "node:fs";
import path from "node:path";
import {
  expect,
  request,
  type APIRequestContext,
  type Browser,
  type Page,
  type TestInfo,
} from "@playwright/test";
import { storageStateOf, type SeedUser } from "./seed";

export const SCREENSHOT_DIR = path.join("test-results", "screenshots");

/** Signs in through the form, as a person would. */
export async function signIn(page: Page, user: SeedUser) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/sandboxes$/);
}

/** A page already signed in as `user` (the session the seed step saved). */
export async function pageAs(browser: Browser, user: SeedUser): Promise<Page> {
  const context = await browser.newContext({ storageState: storageStateOf(user) });
  const page = await context.newPage();
  await page.goto("/sandboxes");
  await expect(page.getByRole("heading", { name: "Sandboxes", level: 1 })).toBeVisible();
  return page;
}

/** An HTTP client with `user`'s session cookie, for API-level checks and setup. */
export async function apiAs(baseURL: string, user: SeedUser): Promise<APIRequestContext> {
  return request.newContext({ baseURL, storageState: storageStateOf(user) });
}

/** A full-page screenshot kept as a test artifact (attached to the report, and on disk). */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: "image/png" });
}

export async function trpcQuery<T>(
  api: APIRequestContext,
  procedure: string,
  input: unknown,
): Promise<T> {
  const res = await api.get(
    `/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`,
  );
  expect(res.ok(), `${procedure}: ${res.status()}`).toBeTruthy();
  return ((await res.json()) as { result: { data: T } }).result.data;
}

export async function trpcMutation<T>(
  api: APIRequestContext,
  procedure: string,
  input: unknown,
): Promise<T> {
  const res = await api.post(`/api/trpc/${procedure}`, { data: input });
  expect(res.ok(), `${procedure}: ${res.status()}`).toBeTruthy();
  return ((await res.json()) as { result: { data: T } }).result.data;
}

export type SandboxList = { items: { id: string; state: string }[]; nextCursor: string | null };
