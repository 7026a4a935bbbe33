"use client";

import { Boxes, ChartColumn, CreditCard, FileDown, LogOut, Settings, Terminal } from "lucide-react";
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { cn } from "@/lib/utils";
import { useConsole } from "./console-context";
import { TeamSwitcher } from "./team-switcher";
import { SignOutButton } from "./sign-out-button";

const nav = [
  { href: "/sandboxes", label: "Sandboxes", icon: Boxes },
  { href: "/credits", label: "Credits", icon: CreditCard },
  { href: "/usage", label: "Usage", icon: ChartColumn },
  { href: "/exports", label: "Exports", icon: FileDown },
  { href: "/settings", label: "Settings", icon: Settings },
];

export function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const { user, role } = useConsole();
  return (
    <div className="flex min-h-screen flex-col md:flex-row">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-background focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      <aside className="flex shrink-0 flex-col gap-4 border-b bg-muted/40 p-4 md:sticky md:top-0 md:h-screen md:w-60 md:border-b-0 md:border-r">
        <Link href="/sandboxes" className="flex items-center gap-2 px-2 text-lg font-semibold">
          <Terminal className="size-5" aria-hidden /> Sandboxer
        </Link>
        <TeamSwitcher />
        <nav aria-label="Main" className="flex gap-1 md:flex-col">
          {nav.map(({ href, label, icon: Icon }) => {
            const active = pathname === href || pathname.startsWith(`${href}/`);
            return (
              <Link
                key={href}
                href={href}
                aria-current={active ? "page" : undefined}
                className={cn(
                  "flex items-center gap-2 rounded-md px-3 py-2 text-sm font-medium text-muted-foreground hover:bg-accent hover:text-foreground",
                  active && "bg-accent text-foreground",
                )}
              >
                <Icon className="size-4" aria-hidden />
                {label}
              </Link>
            );
          })}
        </nav>
        <div className="mt-auto hidden border-t pt-4 text-sm md:block">
          <p className="truncate font-medium" title={user.email}>
            {user.name || user.email}
          </p>
          <p className="truncate text-xs text-muted-foreground">
            {user.email} · <span data-testid="current-role">{role}</span>
          </p>
          <SignOutButton className="mt-3 w-full justify-start" icon={<LogOut aria-hidden />} />
        </div>
      </aside>
      <main id="main" className="min-w-0 flex-1 p-4 md:p-8">
        <div className="mx-auto max-w-6xl">{children}</div>
      </main>
    </div>
  );
}
