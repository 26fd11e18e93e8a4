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

  it("takes the S3 keys, checked as their flags", () => {
    const c = readConfig('s3-bucket = "files"\ns3-prefix = "ftp"\ns3-endpoint = "https://s3.example.net"\ns3-region = "eu-west-1"\ns3-path-style = true\n', "f", ".");
    if (typeof c === "string") throw new Error(c);
    expect(c.args).toEqual(["--s3-bucket", "files", "--s3-prefix", "ftp", "--s3-endpoint", "https://s3.example.net", "--s3-region", "eu-west-1", "--s3-path-style"]);
    expect(parseCli([...c.args])).toMatchObject({ kind: "run", options: { s3: { bucket: "files", prefix: "ftp", endpoint: "https://s3.example.net", region: "eu-west-1", pathStyle: true } } });
    expect(readConfig('\ns3-bucket = "No"\n', "f.toml", ".")).toBe('f.toml:2: s3-bucket: --s3-bucket must be a bucket name (3-63 lower-case letters, digits, dots, hyphens), got "No"');
    expect(readConfig("s3-path-style = 1\n", "f.toml", ".")).toBe("f.toml:1: s3-path-style must be true or false, got a number");
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
      // A negative number is the flag's value (one line), not taken for another flag.
      ["max-sessions-per-ip = -1\n", 'f.toml:1: max-sessions-per-ip: --max-sessions-per-ip must be a whole number, got "-1"'],
      ['pasv-ports = "60000-50000"\n', "f.toml:1: pasv-ports: --pasv-ports: passive port range 60000-50000 is reversed"],
      ["login-fail-delay = 99\n", "f.toml:1: login-fail-delay: --login-fail-delay must be seconds from 0 to 60 (at most 3 decimals), got \"99\""],
      ['host = ["a"]\n', "f.toml:1: host must be a string, got an array"],
      ['port = 1\n[[user]]\nname = "a"\n', "f.toml:2: user a: password-hash must be a string (make one with `pasv hash-password`)"],
      ['[[user]]\npassword-hash = "$6$x$y"\n', "f.toml:1: user.name: a [[user]] needs a name (a string)"],
      ['[[user]]\nname = "bob"\npassword-hash = "hunter2"\n', "f.toml:3: user bob: password-hash is not a recognised hash (bcrypt ($2a$, $2b$, $2y$), SHA-crypt ($5$, $6$), argon2id ($argon2id$), scrypt ($7$)); make one with 'pasv hash-password'"],
      [`[[user]]\nname = "bob"\npassword-hash = "$6$rounds=656000$saltsalt$${"a".repeat(86)}"\n`, "f.toml:3: user bob: password-hash: SHA-crypt with rounds=656000 would stop every other session while each login is checked (SHA-crypt cannot yield; the most is 50000 rounds); make one with 'pasv hash-password'"],
      ['[[user]]\nname = "ftp"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\n', 'f.toml:2: user.name: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name'],
      ['[[user]]\nname = "a"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\npassword = "pw"\n', "f.toml:4: user.password: unknown key (a [[user]] has name, password-hash, home, permissions, max-rate-down, max-rate-up)"],
      ['[[user]]\nname = "a"\npassword-hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"\npermissions = 7\n', "f.toml:4: user a: permissions must be a preset or an array of rights, got a number"],
      ['[user]\nname = "a"\n', "f.toml:1: user: write users as [[user]] tables"],
    ];
    for (const [text, message] of cases) expect(readConfig(text, "f.toml", "."), text).toBe(message);
    const broken = readConfig("port = 1\nhost = \n", "f.toml", ".");
    expect(broken).toMatch(/^f\.toml:2: /);
  });
});

describe("readConfig bandwidth limits", () => {
  const HASH = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/";

  it("reads rates at the top level and per user, as numbers or suffixed strings", () => {
    const c = readConfig(`max-rate-down = "2M"\nmax-rate-up = 65536\nanonymous-max-rate-down = "100k"\n\n[[user]]\nname = "bob"\npassword-hash = "${HASH}"\nmax-rate-down = 0\nmax-rate-up = "1M"\n`, "f.toml", ".");
    if (typeof c === "string") throw new Error(c);
    expect(c.args).toEqual(["--max-rate-down=2M", "--max-rate-up=65536", "--anonymous-max-rate-down=100k", "--user-max-rate-down", "bob=0", "--user-max-rate-up", "bob=1M"]);
    expect(parseCli([...c.args])).toMatchObject({ kind: "run", options: { rates: { down: 2_097_152, up: 65_536, anonymousDown: 102_400, anonymousUp: null }, userRates: new Map([["bob", { down: 0, up: 1_048_576 }]]) } });
    // The command line still wins.
    expect(parseCli([...c.args, "--max-rate-down", "1k"])).toMatchObject({ options: { rates: { down: 1024 } } });
  });

  it("names the file, the line and the key of a bad rate", () => {
    const cases: [string, string][] = [
      ['port = 1\nmax-rate-down = "2G"\n', 'f.toml:2: max-rate-down: --max-rate-down must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got "2G"'],
      ["max-rate-up = 1.5\n", 'f.toml:1: max-rate-up must be bytes per second (a whole number, or a string like "2M"), got a number'],
      ["max-rate-up = -3\n", 'f.toml:1: max-rate-up: --max-rate-up must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got "-3"'],
      ["anonymous-max-rate-up = true\n", 'f.toml:1: anonymous-max-rate-up must be bytes per second (a whole number, or a string like "2M"), got a boolean'],
      [`[[user]]\nname = "bob"\npassword-hash = "${HASH}"\nmax-rate-up = "fast"\n`, 'f.toml:4: user bob: max-rate-up must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got "fast"'],
      [`[[user]]\nname = "bob"\npassword-hash = "${HASH}"\n\nmax-rate-down = [1]\n`, 'f.toml:5: user bob: max-rate-down must be bytes per second (a whole number, or a string like "2M"), got an array'],
    ];
    for (const [text, message] of cases) expect(readConfig(text, "f.toml", "."), text).toBe(message);
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

describe("readConfig: proxy-protocol and proxy-from", () => {
  it("takes proxy-from as a string or an array, and names the line of a bad block", () => {
    expect(readConfig('proxy-protocol = true\nproxy-from = ["10.0.0.0/8", "::1"]\n', "p.toml", ".")).toEqual({ args: ["--proxy-protocol", "--proxy-from", "10.0.0.0/8,::1"], users: [] });
    expect(readConfig('proxy-from = "127.0.0.1"\nproxy-protocol = true\n', "p.toml", ".")).toEqual({ args: ["--proxy-from", "127.0.0.1", "--proxy-protocol"], users: [] });
    expect(readConfig('proxy-protocol = true\nproxy-from = ["10.0.0.0/8", "nope"]\n', "p.toml", ".")).toBe('p.toml:2: proxy-from: --proxy-from: "nope" is not an IP address or CIDR block (like 10.0.0.0/8)');
    expect(readConfig("proxy-from = 3\n", "p.toml", ".")).toBe("p.toml:1: proxy-from must be a string or an array of strings, got a number");
  });

  it("the pairing rule is checked once all keys are in", () => {
    const c = readConfig('proxy-from = "127.0.0.1"\n', "p.toml", ".");
    expect(typeof c === "string" ? c : parseCli([...c.args])).toEqual({ kind: "error", message: "--proxy-from needs --proxy-protocol" });
  });
});
