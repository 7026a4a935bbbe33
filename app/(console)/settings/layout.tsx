import type { ReactNode } from "react";
import { SettingsNav } from "@/components/settings/settings-nav";
import { PageHeader } from "@/components/console/states";

export default function SettingsLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <PageHeader
        title="Settings"
        description="API keys, the people in your team, provider keys, and what your team can run."
      />
      <SettingsNav />
      <div className="mt-6">{children}</div>
    </>
  );
}
