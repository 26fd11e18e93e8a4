// A small typed event emitter: the driver runs where node:events does not.

export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(event: never) => void>>();

  on<K extends keyof Events>(name: K, listener: (event: Events[K]) => void): this {
    let set = this.handlers.get(name);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(listener);
    return this;
  }

  off<K extends keyof Events>(name: K, listener: (event: Events[K]) => void): this {
    this.handlers.get(name)?.delete(listener);
    return this;
  }

  protected emit<K extends keyof Events>(name: K, event: Events[K]): void {
    for (const listener of [...(this.handlers.get(name) ?? [])]) (listener as (event: Events[K]) => void)(event);
  }
}
