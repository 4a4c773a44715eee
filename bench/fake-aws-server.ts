// Runs bench/fake-aws.ts in a process of its own: `FAKE_AWS_OPTIONS=<json> node --import tsx
// bench/fake-aws-server.ts`. Prints `listening <port>` on stdout and exits when its parent does
// (stdin closes), so a crashed benchmark never leaves it behind.
import { fakeAwsServer } from "./fake-aws";
import type { FakeAwsOptions } from "./fake-aws";

const options = JSON.parse(process.env.FAKE_AWS_OPTIONS ?? "{}") as FakeAwsOptions;
const server = fakeAwsServer(options);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : 0}\n`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
