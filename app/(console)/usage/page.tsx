import type { Metadata } from "next";
import { Suspense } from "react";
import { UsageView } from "@/components/usage/usage-view";
import { LoadingRows, PageHeader } from "@/components/console/states";

export const metadata: Metadata = { title: "Usage" };

export default function UsagePage() {
  return (
    <>
      <PageHeader
        title="Usage"
        description="What your team's sandboxes cost and how long they ran, by day, extension and profile (UTC days)."
      />
      <Suspense fallback={<LoadingRows label="Loading usage" />}>
        <UsageView />
      </Suspense>
    </>
  );
}
