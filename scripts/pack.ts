// `npm run pack [-- DEST]`: the `pasv` command as npm tarballs, one per workspace package it needs
// (found by walking the CLI's "workspace:" dependencies), so that `npm i -g DEST/*.tgz` or
// `npx -p ...` runs it outside the checkout. Builds first; prints the tarballs' paths, one a line.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const top = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dest = resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[2] ?? "dist-pack");
const pnpm = (args: readonly string[], cwd: string): string => execFileSync("bash", [join(top, "scripts/pnpm.sh"), ...args], { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });

interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
}
const byName = new Map<string, { dir: string; manifest: Manifest }>();
for (const dir of readdirSync(join(top, "packages"))) {
  try {
    const manifest = JSON.parse(readFileSync(join(top, "packages", dir, "package.json"), "utf8")) as Manifest;
    byName.set(manifest.name, { dir: join(top, "packages", dir), manifest });
  } catch {
    // Not a package folder.
  }
}
const wanted: string[] = [];
const visit = (name: string): void => {
  if (wanted.includes(name)) return;
  const pkg = byName.get(name);
  if (pkg === undefined) throw new Error(`pack: no workspace package ${name}`);
  wanted.push(name);
  for (const [dep, range] of Object.entries(pkg.manifest.dependencies ?? {})) if (range.startsWith("workspace:")) visit(dep);
};
visit("@pasv/cli");

if (process.env.PASV_PACK_NO_BUILD !== "1") pnpm(["run", "--silent", "build"], top);
rmSync(dest, { recursive: true, force: true });
mkdirSync(dest, { recursive: true });
for (const name of wanted) {
  // pnpm pack (not npm pack) turns "workspace:*" into the packed version of each dependency.
  const pkg = byName.get(name);
  if (pkg === undefined) continue;
  const out = pnpm(["pack", "--pack-destination", dest], pkg.dir).trim().split("\n");
  process.stdout.write(`${out[out.length - 1] ?? ""}\n`);
}
