import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "@/server/auth/auth";
import { AUTH_BODY_LIMIT_BYTES, limitBody } from "@/server/http/body-limit";
import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

const handle = async (incoming: Request) => {
  const req = await limitBody(incoming, AUTH_BODY_LIMIT_BYTES);
  if (req instanceof Response) return req;
  const auth = getAuth(await getRuntime());
  const handlers = toNextJsHandler(auth);
  return req.method === "GET" ? handlers.GET(req) : handlers.POST(req);
};

export { handle as GET, handle as POST };
