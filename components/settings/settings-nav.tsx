"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { cn } from "@/lib/utils";

const tabs = [
  { href: "/settings/api-keys", label: "API keys" },
  { href: "/settings/members", label: "Members" },
  { href: "/settings/provider-keys", label: "Provider keys" },
  { href: "/settings/registry", label: "Profiles & extensions" },
  { href: "/settings/reconciler", label: "Reconciler" },
];

export function SettingsNav() {
  const pathname = usePathname();
  return (
    // Wraps on a narrow screen, so every tab stays in sight (a sideways-scrolling bar hid the last
    // ones with nothing to say they were there); the baseline is an inset shadow under the lot.
    <nav
      aria-label="Settings"
      className="flex flex-wrap gap-x-1 shadow-[inset_0_-1px_0_var(--border)]"
    >
      {tabs.map((t) => {
        const active = pathname.startsWith(t.href);
        return (
          <Link
            key={t.href}
            href={t.href}
            aria-current={active ? "page" : undefined}
            className={cn(
              "shrink-0 whitespace-nowrap border-b-2 border-transparent px-3 py-2 text-sm font-medium text-muted-foreground hover:text-foreground",
              active && "border-foreground text-foreground",
            )}
          >
            {t.label}
          </Link>
        );
      })}
    </nav>
  );
}
