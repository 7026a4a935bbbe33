import type { Metadata } from "next";
import { CreditsView } from "@/components/credits/credits-view";
import { PageHeader } from "@/components/console/states";

export const metadata: Metadata = { title: "Credits" };

export default function CreditsPage() {
  return (
    <>
      <PageHeader
        title="Credits"
        description="Your team's balance, what running sandboxes hold, and every movement of credit."
      />
      <CreditsView />
    </>
  );
}
