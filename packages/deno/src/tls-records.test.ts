// ClientRecords on a client's first flights, fed whole and split at every byte.
import { ClientRecords, TLS_APPLICATION_DATA } from "./tls-records.ts";

function record(type: number, body: number[]): number[] {
  return [type, 3, 3, body.length >> 8, body.length & 0xff, ...body];
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

// A ClientHello whose body holds 23s and a long length, a compatibility ChangeCipherSpec, then the
// encrypted Finished (application_data) and more after it.
const hello = record(22, Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? TLS_APPLICATION_DATA : i & 0xff)));
const ccs = record(20, [1]);
const finished = record(TLS_APPLICATION_DATA, [9, 9, 9, 9]);
const stream = Uint8Array.from([...hello, ...ccs, ...finished, ...record(TLS_APPLICATION_DATA, [1, 2])]);
/** Bytes up to and including the header of the first application_data record. */
const until = hello.length + ccs.length + 5;

Deno.test("ClientRecords: application_data is seen at its header's last byte, never inside another record", () => {
  const one = new ClientRecords();
  one.feed(stream);
  check(one.applicationData, "the whole stream at once");
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = new ClientRecords();
    r.feed(stream.subarray(0, cut));
    check(r.applicationData === cut >= until, `one cut at ${cut}`);
    r.feed(stream.subarray(cut));
    check(r.applicationData, `the rest after ${cut}`);
  }
});

Deno.test("ClientRecords: byte by byte", () => {
  const r = new ClientRecords();
  for (let i = 0; i < stream.length; i++) {
    r.feed(stream.subarray(i, i + 1));
    check(r.applicationData === i + 1 >= until, `after byte ${i}`);
  }
});

Deno.test("ClientRecords: handshake records only (a second ClientHello after a HelloRetryRequest) are not application data", () => {
  const r = new ClientRecords();
  r.feed(Uint8Array.from([...hello, ...ccs, ...hello]));
  check(!r.applicationData, "handshake and ChangeCipherSpec only");
});
