import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "@/server/auth/auth";
import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

const handle = async (req: Request) => {
  const auth = getAuth(await getRuntime());
  const handlers = toNextJsHandler(auth);
  return req.method === "GET" ? handlers.GET(req) : handlers.POST(req);
};

export { handle as GET, handle as POST };
