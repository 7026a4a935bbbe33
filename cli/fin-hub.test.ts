import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serializeBatch } from "../server/fin-hub/payload";
import { signatureHeaders } from "../server/fin-hub/verify";
import { run } from "./program";

const SECRET = "cli-test-secret-0123456789abcdefghij";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-fin-hub-cli-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], vars: Record<string, string> = { FIN_HUB_SECRET: SECRET }) {
  const env = vars as NodeJS.ProcessEnv;
  let stdout = "";
  let stderr = "";
  const code = await run(["node", "sandboxer", ...args], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

const body = serializeBatch({ id: "fhb_cli", seq: 1, createdAt: new Date("2026-12-01T00:00:00Z") }, [
  {
    id: "use_1",
    sandboxId: "sbx_1",
    teamId: "team_1",
    teamName: "Zürich \"quoted\" =1+1 ☃",
    extensionId: "ext.saas-stub",
    profileId: "profile.burst-sandbox",
    providerSandboxId: null,
    startedAt: new Date("2026-12-01T00:00:00Z"),
    endedAt: new Date("2026-12-01T00:00:01.5Z"),
    durationMs: 1500,
    resources: { vcpu: 2, memoryMiB: 512, gpu: 0, gpuType: null },
    rateCardVersion: "0012",
    currency: "USD",
    costMicros: 39n,
    credentialSource: "platform",
    endReason: "destroy requested",
  },
]).text;
const bodyFile = path.join(dir, "body.json");
fs.writeFileSync(bodyFile, body, "utf8");

describe("sandboxer fin-hub verify", () => {
  it("exits 0 for a body signed with the secret, and 9 for a changed byte, an old timestamp or another secret", async () => {
    const h = signatureHeaders([SECRET], body);
    const args = ["fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile, "--signature", h["x-sandboxer-signature"]!, "--timestamp", h["x-sandboxer-timestamp"]!];
    const ok = await cli(args);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toMatch(/^signature valid: \d+ bytes signed at/);

    const tampered = path.join(dir, "tampered.json");
    fs.writeFileSync(tampered, body.replace('"cost":"0.000039"', '"cost":"0.000040"'));
    const bad = await cli(args.map((a) => (a === bodyFile ? tampered : a)));
    expect(bad.code).toBe(9);
    expect(bad.stderr).toMatch(/signature invalid: signature_mismatch/);

    const old = signatureHeaders([SECRET], body, new Date(Date.now() - 3_600_000));
    const stale = await cli(["fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile, "--signature", old["x-sandboxer-signature"]!, "--timestamp", old["x-sandboxer-timestamp"]!]);
    expect(stale.code).toBe(9);
    expect(stale.stderr).toMatch(/timestamp_too_old/);

    const wrong = await cli(args, { FIN_HUB_SECRET: "some-other-secret-0123456789abcdefgh" });
    expect(wrong.code).toBe(9);
  });

  it("reads both headers from a file, prints JSON with --json, and signs with `fin-hub sign`", async () => {
    const signed = await cli(["fin-hub", "sign", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile]);
    expect(signed.code).toBe(0);
    const headersFile = path.join(dir, "headers.txt");
    fs.writeFileSync(headersFile, `POST /batches HTTP/1.1\r\nContent-Type: application/json\r\n${signed.stdout.replace(/\n/g, "\r\n")}X-Sandboxer-Batch-Id: fhb_cli\r\n`);
    const res = await cli(["--json", "fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile, "--headers-file", headersFile]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, batchId: "fhb_cli", bytes: Buffer.byteLength(body) });
  });

  it("refuses a missing secret variable or missing headers with exit 2", async () => {
    expect((await cli(["fin-hub", "verify", "--secret-env", "NOPE", "--body-file", bodyFile, "--signature", "v1=x", "--timestamp", "1"])).code).toBe(2);
    const r = await cli(["fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--signature and --timestamp, or --headers-file/);
  });

  it("refuses an unreadable --headers-file or --body-file with exit 2, naming the flag", async () => {
    const missing = path.join(dir, "no-such-headers.txt");
    const headers = await cli(["fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile, "--headers-file", missing]);
    expect(headers).toEqual({ code: 2, stdout: "", stderr: `error: --headers-file: cannot read ${missing}: ENOENT\n` });
    const folder = await cli(["fin-hub", "verify", "--secret-env", "FIN_HUB_SECRET", "--body-file", bodyFile, "--headers-file", dir]);
    expect(folder).toEqual({ code: 2, stdout: "", stderr: `error: --headers-file: cannot read ${dir}: EISDIR\n` });
    const body = await cli(["fin-hub", "sign", "--secret-env", "FIN_HUB_SECRET", "--body-file", missing]);
    expect(body).toEqual({ code: 2, stdout: "", stderr: `error: --body-file: cannot read ${missing}: ENOENT\n` });
  });
});
