import { test as setup } from "@playwright/test";
import { seed } from "./seed";

setup("seed teams and users over HTTP", async ({ baseURL }) => {
  setup.setTimeout(60_000);
  await seed(baseURL!);
});
