import type { Metadata } from "next";
import { PageHeader } from "@/components/console/states";
import { ExportsView } from "@/components/exports/exports-view";

export const metadata: Metadata = { title: "Exports" };

export default function ExportsPage() {
  return (
    <>
      <PageHeader
        title="Exports"
        description="Usage as CSV or FOCUS 1.2 files for finance, and the delivery of every usage record to fin-hub."
      />
      <ExportsView />
    </>
  );
}
