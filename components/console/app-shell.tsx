"use client";

import {
  Boxes,
  ChartColumn,
  CreditCard,
  FileDown,
  LogOut,
  Menu,
  Settings,
  Terminal,
} from "lucide-react";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState, type ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { Sheet, SheetContent, SheetTitle, SheetTrigger } from "@/components/ui/sheet";
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

function Logo() {
  return (
    <Link href="/sandboxes" className="flex items-center gap-2 px-2 text-lg font-semibold">
      <Terminal className="size-5" aria-hidden /> Sandboxer
    </Link>
  );
}

/**
 * The team switcher, the pages and the person signed in: the sidebar from the md breakpoint up,
 * and the same in a sheet opened from the top bar below it. `onNavigate` closes the sheet.
 */
function ShellNav({ onNavigate }: { onNavigate?: () => void }) {
  const pathname = usePathname();
  const { user, role } = useConsole();
  return (
    <>
      <TeamSwitcher onSwitched={onNavigate} />
      <nav aria-label="Main" className="flex flex-col gap-1">
        {nav.map(({ href, label, icon: Icon }) => {
          const active = pathname === href || pathname.startsWith(`${href}/`);
          return (
            <Link
              key={href}
              href={href}
              onClick={onNavigate}
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
      <div className="mt-auto border-t pt-4 text-sm">
        <p className="truncate font-medium" title={user.email}>
          {user.name || user.email}
        </p>
        <p className="truncate text-xs text-muted-foreground" title={`${user.email} · ${role}`}>
          {user.email} · <span data-testid="current-role">{role}</span>
        </p>
        <SignOutButton className="mt-3 w-full justify-start" icon={<LogOut aria-hidden />} />
      </div>
    </>
  );
}

export function AppShell({ children }: { children: ReactNode }) {
  const { team, role } = useConsole();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div className="flex min-h-screen flex-col md:flex-row">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-background focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      {/* Below md: a top bar with the team and role; everything else is in the menu. */}
      <header className="sticky top-0 z-40 flex items-center gap-2 border-b bg-background px-2 py-2 md:hidden">
        <Sheet open={menuOpen} onOpenChange={setMenuOpen}>
          <SheetTrigger asChild>
            <Button variant="ghost" size="icon" aria-label="Open menu">
              <Menu aria-hidden />
            </Button>
          </SheetTrigger>
          <SheetContent aria-describedby={undefined}>
            <SheetTitle className="flex items-center gap-2 px-2">
              <Terminal className="size-5" aria-hidden /> Sandboxer
            </SheetTitle>
            <ShellNav onNavigate={() => setMenuOpen(false)} />
          </SheetContent>
        </Sheet>
        <Logo />
        <p
          className="ml-auto min-w-0 truncate text-right text-xs text-muted-foreground"
          title={`${team?.name ?? ""} · ${role ?? ""}`}
        >
          <span className="font-medium text-foreground">{team?.name}</span> · {role}
        </p>
      </header>
      <aside className="hidden shrink-0 flex-col gap-4 border-r bg-muted/40 p-4 md:sticky md:top-0 md:flex md:h-screen md:w-60">
        <Logo />
        <ShellNav />
      </aside>
      <main id="main" className="min-w-0 flex-1 p-4 md:p-8">
        <div className="mx-auto max-w-6xl">{children}</div>
      </main>
    </div>
  );
}
