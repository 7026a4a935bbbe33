import type { Metadata } from "next";
import { NotFoundContent } from "@/components/console/not-found-content";

export const metadata: Metadata = { title: "Not found" };

export default function NotFound() {
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <NotFoundContent />
    </main>
  );
}
