import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, openTestDb, type TestRuntime } from "../server/testing/harness";
import { databaseLabel, seedDemo } from "./seed-demo";

/**
 * The demo credentials file is the only copy of the demo password and API key. One data folder
 * serves several databases in turn (PGlite, then DATABASE_URL, then PGlite again): seeding a new
 * one must not overwrite another's credentials.
 */
let dbA: Awaited<ReturnType<typeof openTestDb>>;
let dbB: Awaited<ReturnType<typeof openTestDb>>;
let rtA: TestRuntime;
let rtB: TestRuntime;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-seed-"));
const file = path.join(dir, "demo-credentials.txt");
const A = "PGlite at /data/pglite";
const B = "Postgres 127.0.0.1:5432/other";

beforeAll(async () => {
  [dbA, dbB] = await Promise.all([openTestDb(), openTestDb()]);
  [rtA, rtB] = await Promise.all([createTestRuntime(dbA), createTestRuntime(dbB)]);
});
afterAll(async () => {
  await Promise.all([rtA?.cleanup(), rtB?.cleanup()]);
  await Promise.all([dbA?.drop(), dbB?.drop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const keyIn = (text: string) => /^api key: {2}(sbxk_\S+)$/m.exec(text)?.[1];

describe("seedDemo", () => {
  it("labels databases without their passwords", () => {
    expect(databaseLabel({ kind: "pglite", dataDir: "/x/.data/pglite" })).toBe("PGlite at /x/.data/pglite");
    expect(databaseLabel({ kind: "postgres", url: "postgres://u:secret@db.internal:5433/sbx?sslmode=require" })).toBe("Postgres db.internal:5433/sbx");
  });

  it("keeps another database's credentials when it seeds a new one, and says where each database's are", async () => {
    const first = await seedDemo(rtA, { file, label: A });
    expect(first).toMatch(/^seeded "Demo team"/);
    const textA = fs.readFileSync(file, "utf8");
    const keyA = keyIn(textA);
    expect(keyA).toBeTruthy();
    expect(textA).toContain(`database: ${A}\n`);
    expect(await seedDemo(rtA, { file, label: A })).toMatch(/^demo team already seeded; its credentials are in .*demo-credentials\.txt$/);

    // DATABASE_URL now points at another database: a new demo team there, A's file set aside.
    const second = await seedDemo(rtB, { file, label: B, now: new Date("2026-12-04T08:40:00.000Z") });
    const aside = path.join(dir, "demo-credentials.2026-12-04T08-40-00-000Z.txt");
    expect(second).toContain(`the previous demo-credentials.txt (${A}) was kept as`);
    expect(fs.readFileSync(aside, "utf8")).toBe(textA);
    const keyB = keyIn(fs.readFileSync(file, "utf8"));
    expect(keyB).toBeTruthy();
    expect(keyB).not.toBe(keyA);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe("600");

    // Back on A: already seeded, and its credentials are found in the file set aside.
    const back = await seedDemo(rtA, { file, label: A });
    expect(back).toContain("demo team already seeded; its credentials are in ");
    expect(back).toContain("demo-credentials.2026-12-04T08-40-00-000Z.txt");
    expect(back).toContain(`demo-credentials.txt holds ${B}'s`);
    expect(keyIn(fs.readFileSync(file, "utf8"))).toBe(keyB);
  });
});
