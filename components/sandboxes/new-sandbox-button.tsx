"use client";

import { Plus } from "lucide-react";
import Link from "next/link";
import { useConsole } from "@/components/console/console-context";
import { buttonVariants } from "@/components/ui/button";

/** Shown only to roles that may create sandboxes (finance may not); the API enforces it too. */
export function NewSandboxButton() {
  const { can } = useConsole();
  if (!can.manageSandboxes) return null;
  return (
    <Link href="/sandboxes/new" className={buttonVariants()}>
      <Plus aria-hidden /> New sandbox
    </Link>
  );
}
