// The record layer of a TLS stream, read from the 5-byte record headers only (type, version,
// length): enough for the loopback relay to tell when the client's handshake needs nothing more
// from the server. Pure, so that Deno's unit test can feed it byte by byte.

/** TLS ContentType application_data. */
export const TLS_APPLICATION_DATA = 23;
const HEADER_BYTES = 5;

/**
 * Where the client's TLS records are, read from their 5-byte headers as the bytes pass: it answers
 * whether the client has sent a record of type application_data (23) yet. In TLS 1.3 the first
 * one carries the client's Finished, in TLS 1.2 its first application bytes: from then on the
 * handshake needs nothing more from the server.
 */
export class ClientRecords {
  private header: number[] = [];
  private left = 0;
  applicationData = false;

  feed(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length && !this.applicationData) {
      if (this.left > 0) {
        const take = Math.min(this.left, bytes.length - at);
        this.left -= take;
        at += take;
        continue;
      }
      this.header.push(bytes[at] as number);
      at++;
      if (this.header.length < HEADER_BYTES) continue;
      const [type, , , high, low] = this.header as [number, number, number, number, number];
      this.header = [];
      if (type === TLS_APPLICATION_DATA) this.applicationData = true;
      this.left = high * 256 + low;
    }
  }
}
