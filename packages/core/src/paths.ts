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
