import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { SandboxDetail } from "@/components/sandboxes/sandbox-detail";
import { isTRPCError, serverRead } from "@/lib/trpc-server";

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: (await params).id };
}

export default async function SandboxPage({ params }: Props) {
  const { id } = await params;
  // Another team's sandbox is NOT_FOUND from the API, so it gets the same 404 as a typo.
  const sandbox = await serverRead((c) => c.sandboxes.get({ id })).catch((err: unknown) => {
    if (isTRPCError(err, "NOT_FOUND") || isTRPCError(err, "BAD_REQUEST")) notFound();
    throw err;
  });
  return <SandboxDetail initial={sandbox} />;
}
