import type { Metadata } from "next";
import { Suspense } from "react";
import { NewSandboxButton } from "@/components/sandboxes/new-sandbox-button";
import { SandboxesTable } from "@/components/sandboxes/sandboxes-table";
import { LoadingRows, PageHeader } from "@/components/console/states";
import { serverRead } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "Sandboxes" };

export default async function SandboxesPage() {
  // The filter choices come from the registry: every profile and extension the team could use.
  const registry = await serverRead((c) => c.registry.list());
  return (
    <>
      <PageHeader
        title="Sandboxes"
        description="Every sandbox of your team, live."
        actions={<NewSandboxButton />}
      />
      <Suspense fallback={<LoadingRows label="Loading sandboxes" />}>
        <SandboxesTable
          profiles={registry.profiles.map((p) => p.id)}
          extensions={registry.extensions.map((e) => e.id)}
        />
      </Suspense>
    </>
  );
}
