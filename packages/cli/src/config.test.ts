import { describe, expect, it } from "vitest";
import { parseCli } from "./args.js";
import { readConfig, splitConfigFlag } from "./config.js";

const FULL = `# pasv.toml
root = "srv"
host = "0.0.0.0"
port = 2121
pasv-ports = "50000-50100"
max-sessions = 100
login-fail-delay = 1.5
ban-after = 0
write = true
hide-dotfiles = true
tls-cert = "/etc/pasv/cert.pem"
tls-key = "key.pem"
tls-required = false

[[user]]
name = "cam"
password-hash = "$2y$05$cUGLOFvMNTUbuJ9FwUieE.av4ynKch746pNBiFkKWs1EHOs4iw2nO"
home = "uploads/cam"
permissions = "upload-only"

[[user]]
name = "ops"
password-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"
permissions = ["list", "read", "delete"]
`;

describe("readConfig: FTPS keys", () => {
  it("maps implicit-tls-port, tls-min-version, tls-ciphers and no-tls-reuse-check to their flags", () => {
    const text = 'tls-cert = "c.pem"\ntls-key = "k.pem"\nimplicit-tls-port = 990\ntls-min-version = "1.3"\ntls-ciphers = "TLS_AES_256_GCM_SHA384"\nno-tls-reuse-check = true\n';
    const c = readConfig(text, "/etc/pasv/pasv.toml", "/etc/pasv");
    if (typeof c === "string") throw new Error(c);
    expect(c.args).toEqual(["--tls-cert", "/etc/pasv/c.pem", "--tls-key", "/etc/pasv/k.pem", "--implicit-tls-port", "990", "--tls-min-version", "1.3", "--tls-ciphers", "TLS_AES_256_GCM_SHA384", "--no-tls-reuse-check"]);
    const parsed = parseCli(c.args);
    expect(parsed.kind === "run" ? parsed.options.tls : parsed).toMatchObject({ implicitPort: 990, minVersion: "1.3", ciphers: "TLS_AES_256_GCM_SHA384", reuseCheck: false });
    // With only the implicit port there is no plain listener.
    expect(parsed.kind === "run" ? parsed.options.port : parsed).toBeNull();
    expect(readConfig('implicit-tls-port = "990"\n', "p.toml", ".")).toMatch(/^p\.toml:1: implicit-tls-port must be a whole number/);
  });
});

describe("readConfig", () => {
  it("turns every key into the flag of the same name, paths relative to the file", () => {
    const c = readConfig(FULL, "/etc/pasv/pasv.toml", "/etc/pasv");
    expect(c).toEqual({
      // tls-required = false sets nothing; the [[user]] tables come last, as in the file.
      args: ["--root", "/etc/pasv/srv", "--host", "0.0.0.0", "--port", "2121", "--pasv-ports", "50000-50100", "--max-sessions", "100", "--login-fail-delay", "1.5", "--ban-after", "0", "--write", "--hide-dotfiles", "--tls-cert", "/etc/pasv/cert.pem", "--tls-key", "/etc/pasv/key.pem", "--user-home", "cam=uploads/cam", "--user-permissions", "cam=upload-only", "--user-permissions", "ops=list,read,delete"],
      users: [
        { name: "cam", passwordHash: "$2y$05$cUGLOFvMNTUbuJ9FwUieE.av4ynKch746pNBiFkKWs1EHOs4iw2nO", line: 15 },
        { name: "ops", passwordHash: "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/", line: 21 },
      ],
    });
  });

  it("is overridden by the command line, which comes after it", () => {
    const c = readConfig('port = 2121\nmax-sessions = 100\nroot = "/srv"\n', "f", ".");
    if (typeof c === "string") throw new Error(c);
    const parsed = parseCli([...c.args, "-p", "2200", "/other"]);
    expect(parsed).toMatchObject({ kind: "run", options: { port: 2200, maxSessions: 100, dir: "/other" } });
    expect(parseCli([...c.args])).toMatchObject({ options: { port: 2121, dir: "/srv" } });
  });

  it("names the file, the line and the key of every mistake", () => {
    const cases: [string, string][] = [
      ["port = 2121\nprot = 1\n", "f.toml:2: prot: unknown key"],
      ['port = "2121"\n', "f.toml:1: port must be a whole number, got a string"],
      ["\n\nport = 70000\n", "f.toml:3: port: --port must be between 0 and 65535, got 70000"],
      ["write = 1\n", "f.toml:1: write must be true or false, got a number"],
      ['pasv-ports = "60000-50000"\n', "f.toml:1: pasv-ports: --pasv-ports: passive port range 60000-50000 is reversed"],
      ["login-fail-delay = 99\n", "f.toml:1: login-fail-delay: --login-fail-delay must be seconds from 0 to 60 (at most 3 decimals), got \"99\""],
      ['host = ["a"]\n', "f.toml:1: host must be a string, got an array"],
      ['port = 1\n[[user]]\nname = "a"\n', "f.toml:2: user a: password-hash must be a string (make one with `pasv hash-password`)"],
      ['[[user]]\npassword-hash = "$6$x$y"\n', "f.toml:1: user.name: a [[user]] needs a name (a string)"],
      ['[[user]]\nname = "bob"\npassword-hash = "hunter2"\n', "f.toml:3: user bob: password-hash is not a recognised hash (bcrypt ($2a$, $2b$, $2y$), SHA-crypt ($5$, $6$), argon2id ($argon2id$), scrypt ($7$)); make one with 'pasv hash-password'"],
      ['[[user]]\nname = "ftp"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\n', 'f.toml:2: user.name: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name'],
      ['[[user]]\nname = "a"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\npassword = "pw"\n', "f.toml:4: user.password: unknown key (a [[user]] has name, password-hash, home, permissions)"],
      ['[[user]]\nname = "a"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\npermissions = 7\n', "f.toml:4: user a: permissions must be a preset or an array of rights, got a number"],
      ['[user]\nname = "a"\n', "f.toml:1: user: write users as [[user]] tables"],
    ];
    for (const [text, message] of cases) expect(readConfig(text, "f.toml", "."), text).toBe(message);
    const broken = readConfig("port = 1\nhost = \n", "f.toml", ".");
    expect(broken).toMatch(/^f\.toml:2: /);
  });
});

describe("splitConfigFlag", () => {
  it("takes --config FILE or --config=FILE once, and leaves the rest", () => {
    expect(splitConfigFlag(["/srv", "--config", "a.toml", "-p", "1"])).toEqual({ file: "a.toml", rest: ["/srv", "-p", "1"] });
    expect(splitConfigFlag(["--config=a.toml"])).toEqual({ file: "a.toml", rest: [] });
    expect(splitConfigFlag(["-p", "1"])).toEqual({ file: null, rest: ["-p", "1"] });
    expect(splitConfigFlag(["--config"])).toBe("--config needs a FILE");
    expect(splitConfigFlag(["--config", "a", "--config", "b"])).toBe("--config may be given once");
  });
});
