import type { ReactNode } from "react";

export const metadata = { title: "Sandboxer", description: "Control plane for short-lived cloud sandboxes" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
