import type { Metadata } from "next";
import { Registry } from "@/components/settings/registry";
import { serverRead } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "Profiles & extensions" };

/** Read-only and cheap to compute, so it is rendered on the server in one pass. */
export default async function RegistryPage() {
  const [registry, capabilities] = await serverRead((c) =>
    Promise.all([c.registry.list(), c.capabilities.list()]),
  );
  return <Registry registry={registry} capabilities={capabilities} />;
}
