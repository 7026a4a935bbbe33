import { expect, test } from "@playwright/test";
import { pageAs, screenshot } from "./helpers";
import { users } from "./seed";

test("Settings → Reconciler: an owner sees the summary and findings; a member is told it is for admins", async ({
  browser,
}, testInfo) => {
  const owner = await pageAs(browser, users.ownerA);
  await owner.goto("/settings/reconciler");
  await expect(owner.getByRole("heading", { name: "Reconciler", level: 2 })).toBeVisible();
  await expect(owner.getByRole("link", { name: "Reconciler" })).toHaveAttribute("aria-current", "page");
  const summary = owner.getByLabel("Reconciler summary");
  await expect(summary).toContainText("Orphans killed");
  await expect(summary).toContainText("Marked lost");
  // A fresh team: the reconciler has found nothing about it.
  await expect(owner.getByText("Nothing found")).toBeVisible();
  await screenshot(owner, testInfo, "settings-reconciler");

  const member = await pageAs(browser, users.memberA);
  await member.goto("/settings/reconciler");
  await expect(member.getByText("Only owners and admins can see what the reconciler found.")).toBeVisible();
  await expect(member.getByLabel("Reconciler summary")).toHaveCount(0);
});
