/** Entry point of the `sandboxer` CLI (started by bin/sandboxer.mjs through tsx). */
import { run } from "./program";

// A reader that stops early (`sandboxer ls | head`) closes the pipe: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await run(process.argv, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
process.exitCode = code;
// Let stdout drain and the process end on its own; if a stray handle keeps it alive, end it.
setTimeout(() => process.exit(code), 2_000).unref();
