// The swarm's roll call: every fault the scenarios inject and every oracle the runs check, by the
// counter each bumps when it fires or is checked. The sim command prints a line for each, zero or
// not, and a fault that never fired (or an oracle never checked) in SWARM_SEEDS seeds is a bug in
// the swarm: whatever it stands for is not being tested.

/** Seeds after which every fault must have fired and every oracle must have been checked. */
export const SWARM_SEEDS = 10_000;

/** The counter an oracle bumps each time it is checked. */
export function checked(oracle: string): string {
  return `check: ${oracle}`;
}

/** Every injected fault, by its counter. */
export const FAULTS: readonly string[] = [
  "fault: connection reset",
  "upload reset after its last byte",
  "client vanished mid-transfer",
  "fault: connect refused",
  "fault: fs not-found",
  "fault: fs permission",
  "fault: fs io",
  "fault: read EIO",
  "fault: ENOSPC mid-write",
  "server shutdown",
  "server shutdown with a drain",
  "server reload mid-run",
  "failed login (guesser)",
  "fault: passive listen failed (range used up or per-address cap)",
  "fault: control TLS handshake stalls (silent)",
  "fault: control TLS handshake stalls (half)",
  "fault: control TLS handshake stalls (garbage)",
  "fault: data TLS handshake stalls (no ClientHello)",
  "fault: data TLS handshake stalls (half a ClientHello)",
  "fault: data TLS does not resume the control session",
  "fault: symlink swapped in or out (race)",
  "race: an entry swapped between a confinement check and its use",
];

/** Every oracle, by the name its failures carry (its check counter is checked(name)). */
export const ORACLES: readonly string[] = [
  "invariants and no exceptions",
  "client crashed",
  "one final reply per command",
  "marks only where allowed",
  "reply syntax",
  "data from a foreign address never used",
  "no file-system access outside the root",
  "RETR bytes equal the file from the REST offset",
  "226 means stored bytes equal sent bytes",
  "no 226 for an upload the client reset",
  "no leaked listeners, connections or files",
  "liveness",
  "session caps hold",
  "shutdown sends 421 and closes",
  "shutdown finishes",
  "every transfer logged once",
  "a drain lets running transfers finish",
  "a valid reload applies",
  "no operation beyond the account's rights",
  "no refused operation touches the file system",
  "nobody is banned for another address's failures",
  "a guessing address is banned",
  "passive listeners per address within the cap",
  "TLS handshakes as promised",
  "a stalled TLS handshake is cut by its deadline",
  "a stalled TLS handshake gets only what the server promises",
  "a stalled TLS handshake frees its slot",
  "a stalled data handshake fails by its deadline",
  "a PROT P transfer never moves bytes unprotected",
  "a data connection that does not resume is never served",
  "confinement holds",
];

/** The roll call's counters that stayed at zero. */
export function neverFired(counters: ReadonlyMap<string, number>): string[] {
  return [...FAULTS, ...ORACLES.map(checked)].filter((name) => (counters.get(name) ?? 0) === 0);
}
