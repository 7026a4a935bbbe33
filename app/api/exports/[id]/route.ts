import { identify } from "@/server/auth/identity";
import { isAppError } from "@/server/errors";
import { getRuntime } from "@/server/runtime";
import { openUsageExportDownload } from "@/server/services/exports";

export const dynamic = "force-dynamic";

const statusOf: Record<string, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_INPUT: 400,
};

/**
 * Downloads a finished usage export (CSV or FOCUS 1.2) to a finance, owner or admin of the team
 * that made it — session cookie or API key. The file is streamed from disk, never buffered.
 */
export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  const { id } = await ctx.params;
  const rt = await getRuntime();
  try {
    const file = await openUsageExportDownload(rt, await identify(rt, req.headers), id);
    return new Response(file.stream(), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${file.fileName}"`,
        "content-length": String(file.bytes),
        ...(file.sha256 ? { "x-content-sha256": file.sha256 } : {}),
        "cache-control": "private, no-store",
        "x-content-type-options": "nosniff",
      },
    });
  } catch (err) {
    if (isAppError(err)) {
      return Response.json(
        { error: err.code, message: err.message },
        { status: statusOf[err.code] ?? 400 },
      );
    }
    rt.logger.error({ exportId: id, err }, "export download failed");
    return Response.json(
      { error: "INTERNAL", message: "the download failed; see the server log" },
      { status: 500 },
    );
  }
}
