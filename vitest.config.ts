import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(".") } },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".next/**", ".data/**", "e2e/**"],
    // A new PGlite instance takes seconds to start on a loaded 2-core machine.
    hookTimeout: 120_000,
    testTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
