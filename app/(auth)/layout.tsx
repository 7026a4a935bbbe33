import { Terminal } from "lucide-react";
import type { ReactNode } from "react";

export default function AuthLayout({ children }: { children: ReactNode }) {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center gap-6 bg-muted/40 p-6">
      <div className="flex items-center gap-2 text-xl font-semibold">
        <Terminal className="size-6" aria-hidden /> Sandboxer
      </div>
      <div className="w-full max-w-sm">{children}</div>
    </main>
  );
}
