export const dynamic = "force-dynamic";

/** Liveness: the process answers. Readiness (DB and Redis) is /api/health. */
export function GET() {
  return Response.json({ ok: true });
}
