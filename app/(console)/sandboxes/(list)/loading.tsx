// Only on routes whose server reads take a moment. Not on sandboxes/[id]: a loading boundary
// there would start streaming before notFound(), and a missing sandbox would answer 200.
export { PageLoading as default } from "@/components/console/page-loading";
