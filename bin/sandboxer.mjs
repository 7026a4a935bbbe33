#!/usr/bin/env node
// The `sandboxer` CLI launcher: runs the TypeScript entry cli/main.ts through tsx (a runtime
// dependency). Paths are resolved from this file's real location, so it works from any working
// directory and through the symlink npm puts in node_modules/.bin.
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
await import("../cli/main.ts");
