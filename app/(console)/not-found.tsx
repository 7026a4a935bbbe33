import { NotFoundContent } from "@/components/console/not-found-content";

export default function ConsoleNotFound() {
  return <NotFoundContent />;
}
