import type { Metadata } from "next";
import { ProviderKeys } from "@/components/settings/provider-keys";

export const metadata: Metadata = { title: "Provider keys" };

export default function ProviderKeysPage() {
  return <ProviderKeys />;
}
