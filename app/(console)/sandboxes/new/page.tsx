import type { Metadata } from "next";
import { CreateSandboxForm } from "@/components/sandboxes/create-sandbox-form";
import { PageHeader } from "@/components/console/states";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { serverRead } from "@/lib/trpc-server";

export const metadata: Metadata = { title: "New sandbox" };

export default async function NewSandboxPage({
  searchParams,
}: {
  searchParams: Promise<{ profile?: string }>;
}) {
  const [current, registry] = await serverRead((c) =>
    Promise.all([c.teams.current(), c.registry.list()]),
  );
  const { profile } = await searchParams;
  if (!current.can.manageSandboxes) {
    return (
      <>
        <PageHeader title="New sandbox" />
        <Alert>
          <AlertTitle>Your role cannot create sandboxes</AlertTitle>
          <AlertDescription>
            As {current.role} you can read usage, credits and exports. Ask an owner or admin if you
            need to run sandboxes.
          </AlertDescription>
        </Alert>
      </>
    );
  }
  const profiles = registry.profiles.map((p) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    ttl: p.ttl,
    resources: p.resources,
  }));
  return (
    <>
      <PageHeader
        title="New sandbox"
        description="Pick a profile and a time to live. You see the cost and routing before anything is created."
      />
      <CreateSandboxForm
        profiles={profiles}
        initialProfile={profiles.some((p) => p.id === profile) ? profile : undefined}
      />
    </>
  );
}
