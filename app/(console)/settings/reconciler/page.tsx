import type { Metadata } from "next";
import { ReconcilerFindings } from "@/components/settings/reconciler-findings";

export const metadata: Metadata = { title: "Reconciler" };

export default function ReconcilerPage() {
  return <ReconcilerFindings />;
}
