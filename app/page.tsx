export default function Home() {
  return (
    <main>
      <h1>Sandboxer</h1>
      <p>The console is coming; use the CLI (`npx sandboxer --help`) or the tRPC API at /api/trpc.</p>
    </main>
  );
}
