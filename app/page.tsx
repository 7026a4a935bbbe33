import { redirect } from "next/navigation";

/** The console starts at the sandboxes list; its layout sends anonymous visitors to sign in. */
export default function Home() {
  redirect("/sandboxes");
}
