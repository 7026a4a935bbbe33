import { checkReadiness } from "@/server/health";
import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

/** Readiness of the web process: DB and Redis both answer. */
export async function GET() {
  try {
    const result = await checkReadiness(await getRuntime());
    return Response.json(result, { status: result.ok ? 200 : 503 });
  } catch {
    return Response.json(
      { ok: false, error: "runtime failed to start; see the server log" },
      { status: 503 },
    );
  }
}
