import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native/WASM and Redis clients must be loaded by Node, not bundled (see docs/operations.md).
  serverExternalPackages: ["@electric-sql/pglite", "bullmq", "ioredis", "pino", "e2b", "modal", "pg"],
  poweredByHeader: false,
};

export default nextConfig;
