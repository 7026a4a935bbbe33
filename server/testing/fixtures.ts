import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A config dir holding the shipped profiles and manifests plus extra YAML files, for tests that
 * need an extension or profile the product does not ship. Returns the directory.
 */
export function configDirWith(extra: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-config-"));
  fs.cpSync("profiles", dir, { recursive: true });
  for (const [name, body] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}
