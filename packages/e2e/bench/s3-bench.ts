// The S3 back end beside the local disk: RETR and STOR of a large file (default 1 GiB) through
// `pasv --s3-bucket` against s3rver and through `pasv DIR`, as MiB/s and ratios, and 4 KiB RETRs per
// second on S3. s3rver keeps objects on the same disk, so the ratio is what S3 costs pasv plus
// what s3rver costs, an upper bound of the back end's overhead. Figures are printed, never asserted.
// Run: pnpm bench s3 [--mib N] [--seconds N]
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "@pasv/s3";
import { startS3rver, useS3rverCredentials } from "../../s3/src/s3rver.test-helper.js";
import { FtpControl, readAll } from "../test/ftp-control.js";
import { startServer, tempDir, type RunningServer } from "../test/server.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const MiB = 1024 * 1024;
const sizeMiB = Number(arg("--mib") ?? 1024);
const seconds = Number(arg("--seconds") ?? 5);

function curl(args: string[]): Promise<number> {
  const start = performance.now();
  const child = spawn("curl", ["-sS", "--max-time", "900", ...args], { stdio: ["ignore", "ignore", "inherit"] });
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => (code === 0 ? resolve((performance.now() - start) / 1000) : reject(new Error(`curl ${args.join(" ")} failed`))));
  });
}

async function transfer(server: RunningServer, file: string): Promise<{ stor: number; retr: number }> {
  const url = `ftp://alice:pw@127.0.0.1:${server.port}/bench.bin`;
  const stor = await curl(["-T", file, url]);
  const retr = await curl(["-o", "/dev/null", url]);
  return { stor: sizeMiB / stor, retr: sizeMiB / retr };
}

async function smallRetrs(server: RunningServer): Promise<number> {
  const c = await FtpControl.connect(server.port);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  let done = 0;
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    const data = readAll(await c.pasv());
    const mark = await c.cmd("RETR small.bin");
    if (mark.code !== 150) throw new Error(`RETR got ${mark.code}`);
    const [bytes, final] = await Promise.all([data, c.reply()]);
    if (final.code !== 226 || bytes.length !== 4096) throw new Error(`${final.code}, ${bytes.length} bytes`);
    done++;
  }
  c.close();
  return done / ((Date.now() - start) / 1000);
}

useS3rverCredentials();
const work = tempDir("pasv-s3-bench-");
const disk = tempDir("pasv-s3-bench-disk-");
const s3 = await startS3rver(["bench"]);
const servers: RunningServer[] = [];
try {
  const file = path.join(work.dir, "big.bin");
  const chunk = Buffer.alloc(MiB, 0x5a);
  writeFileSync(file, Buffer.concat(Array.from({ length: sizeMiB }, () => chunk)));
  const client = s3Client({ bucket: "bench", endpoint: s3.endpoint, pathStyle: true });
  await client.send(new PutObjectCommand({ Bucket: "bench", Key: "small.bin", Body: Buffer.alloc(4096, 0x61) }));
  client.destroy();
  const local = await startServer(disk.dir, ["-u", "alice:pw", "-w"]);
  servers.push(local);
  const onS3 = await startServer("", ["--s3-bucket", "bench", "--s3-endpoint", s3.endpoint, "--s3-path-style", "-u", "alice:pw", "-w"], { noDir: true });
  servers.push(onS3);
  const a = await transfer(local, file);
  const b = await transfer(onS3, file);
  const small = await smallRetrs(onS3);
  const runtime = process.env.PASV_E2E_SERVER ?? "node";
  console.log(`\n${sizeMiB} MiB over loopback (curl), pasv on ${runtime}\n`);
  console.log("back end      STOR MiB/s  RETR MiB/s");
  console.log(`local disk    ${a.stor.toFixed(0).padStart(10)}  ${a.retr.toFixed(0).padStart(10)}`);
  console.log(`S3 (s3rver)   ${b.stor.toFixed(0).padStart(10)}  ${b.retr.toFixed(0).padStart(10)}`);
  console.log(`S3/local      ${(b.stor / a.stor).toFixed(2).padStart(10)}  ${(b.retr / a.retr).toFixed(2).padStart(10)}`);
  console.log(`\n4 KiB RETRs/s on S3 (one session, ${seconds} s): ${small.toFixed(0)}`);
} finally {
  for (const s of servers) await s.stop();
  await s3.stop();
  work.remove();
  disk.remove();
}
