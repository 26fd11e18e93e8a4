import { describe, expect, it } from "vitest";
import { Emitter } from "./events.js";

interface Events {
  ping: { n: number };
  other: string;
}

class Bus extends Emitter<Events> {
  fire<K extends keyof Events>(name: K, event: Events[K]): void {
    this.emit(name, event);
  }
}

describe("Emitter", () => {
  it("calls every listener of the event in order, with the payload", () => {
    const bus = new Bus();
    const seen: string[] = [];
    expect(bus.on("ping", (e) => seen.push(`a${e.n}`))).toBe(bus);
    bus.on("ping", (e) => seen.push(`b${e.n}`));
    bus.on("other", (e) => seen.push(`o${e}`));
    bus.fire("ping", { n: 1 });
    bus.fire("other", "x");
    expect(seen).toEqual(["a1", "b1", "ox"]);
  });

  it("emitting with no listeners does nothing; off removes one listener", () => {
    const bus = new Bus();
    bus.fire("ping", { n: 0 });
    const seen: number[] = [];
    const a = (e: { n: number }): void => {
      seen.push(e.n);
    };
    const b = (e: { n: number }): void => void seen.push(e.n * 10);
    bus.on("ping", a).on("ping", b);
    expect(bus.off("ping", a)).toBe(bus);
    bus.off("other", () => undefined); // never registered
    bus.fire("ping", { n: 2 });
    expect(seen).toEqual([20]);
  });

  it("adding the same listener twice registers it once", () => {
    const bus = new Bus();
    let calls = 0;
    const l = (): void => {
      calls++;
    };
    bus.on("ping", l).on("ping", l);
    bus.fire("ping", { n: 1 });
    expect(calls).toBe(1);
  });

  it("a listener removed or added during an emit does not change that emit", () => {
    const bus = new Bus();
    const seen: string[] = [];
    const second = (): void => void seen.push("second");
    bus.on("ping", () => {
      seen.push("first");
      bus.off("ping", second);
      bus.on("ping", () => seen.push("added"));
    });
    bus.on("ping", second);
    bus.fire("ping", { n: 1 });
    expect(seen).toEqual(["first", "second"]);
    seen.length = 0;
    bus.fire("ping", { n: 2 });
    expect(seen).toEqual(["first", "added"]);
  });
});
