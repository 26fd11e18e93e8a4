// Virtual paths: absolute, normalised, and never above "/" whatever the client writes.

export function resolvePath(cwd: string, arg: string): string {
  const parts: string[] = [];
  const input = arg.startsWith("/") ? arg : `${cwd}/${arg}`;
  for (const part of input.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** NUL, CR or LF: bytes no path handed to a file system may contain. */
export function hasForbiddenByte(arg: string): boolean {
  return /[\0\r\n]/.test(arg);
}

/**
 * A symlink's target as a listing may show it: only a relative one that stays inside the user's root
 * when resolved from the link's directory `dir` (a virtual path). An absolute target is a host path
 * (the user's "/" is not the host's), so it is never shown; nor is one that climbs above "/".
 */
export function shownTarget(dir: string, target: string): string | undefined {
  if (target.startsWith("/")) return undefined;
  let depth = dir.split("/").filter((seg) => seg !== "").length;
  for (const seg of target.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg !== "..") depth++;
    else if (depth === 0) return undefined;
    else depth--;
  }
  return target;
}
