// The certificate and key files checked once at start-up, so a wrong file is one line naming it
// rather than an OpenSSL code from deep inside the TLS layer. node:crypto is in Node and in Deno's
// Node compatibility alike, so the check is the same on both runtimes.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";

export interface TlsFilesChecked {
  /** Certificates in the certificate file, leaf first: all of them are served. */
  readonly chain: number;
  /** Expired or not yet valid certificates: served anyway, but the operator should know. */
  readonly warnings: readonly string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const KEY_LABELS: ReadonlySet<string> = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);

function blocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? "", pem: m[0] }));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The problem with the pair, as one line naming the file, or what was found. */
export function checkTlsFiles(certFile: string, cert: Uint8Array, keyFile: string, key: Uint8Array, now: Date): TlsFilesChecked | string {
  const decoder = new TextDecoder("latin1");
  const certBlocks = blocks(decoder.decode(cert)).filter((b) => b.label === "CERTIFICATE");
  if (certBlocks.length === 0) return `${certFile}: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`;
  const chain: X509Certificate[] = [];
  for (const [i, block] of certBlocks.entries()) {
    try {
      chain.push(new X509Certificate(block.pem));
    } catch (error) {
      return `${certFile}: certificate ${String(i + 1)} of ${String(certBlocks.length)} cannot be read: ${message(error)}`;
    }
  }
  const keyBlocks = blocks(decoder.decode(key));
  if (keyBlocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY")) return `${keyFile}: the private key is encrypted; the server cannot ask for its passphrase (decrypt it: openssl pkey -in ${keyFile} -out plain.pem)`;
  const keyBlock = keyBlocks.find((b) => KEY_LABELS.has(b.label));
  if (keyBlock === undefined) return `${keyFile}: not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBlock.pem);
  } catch (error) {
    return `${keyFile}: the private key cannot be read: ${message(error)}`;
  }
  const leaf = chain[0];
  if (leaf === undefined) return `${certFile}: not a PEM certificate`;
  if (!leaf.checkPrivateKey(privateKey)) return `${keyFile}: the private key does not match the certificate in ${certFile} (${leaf.subject.replace(/\n/g, ", ")})`;
  const warnings: string[] = [];
  for (const [i, x] of chain.entries()) {
    const which = i === 0 ? "the certificate" : `chain certificate ${String(i + 1)}`;
    const until = new Date(x.validTo);
    const from = new Date(x.validFrom);
    if (until.getTime() < now.getTime()) warnings.push(`warning: ${certFile}: ${which} expired on ${until.toISOString()}; clients that verify it will refuse the connection`);
    else if (from.getTime() > now.getTime()) warnings.push(`warning: ${certFile}: ${which} is not valid before ${from.toISOString()}`);
  }
  return { chain: chain.length, warnings };
}
