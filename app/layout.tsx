import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Providers } from "@/lib/trpc";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Sandboxer", template: "%s · Sandboxer" },
  description: "Control plane for short-lived cloud sandboxes",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans">
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
