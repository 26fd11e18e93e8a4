// The PRNG lives in the driver so that the simulator and @pasv/testing draw from the same pinned
// generator (a seed means the same thing to both) without either depending on the other.
export { fnv1a, Prng } from "@pasv/driver";
