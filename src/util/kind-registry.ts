/**
 * The implementations of one extension point (namers, load balancers, …) by their config `kind:`,
 * as grpc-js keeps its resolvers and balancing policies: each room builds one, registers its kinds
 * in one module in a fixed order, and the config loader reads `kind:` against `names()`.
 */
export class KindRegistry<D extends { readonly kind: string; readonly defaults?: object }> {
  private readonly kinds = new Map<string, D>();

  /** `what` names the extension point in messages ("namer", "load balancer"). */
  constructor(readonly what: string) {}

  /** Add a kind; a second one under the same name is a programming error, not a silent override. */
  register(descriptor: D): void {
    if (this.kinds.has(descriptor.kind)) throw new Error(`${this.what} kind "${descriptor.kind}" is already registered`);
    this.kinds.set(descriptor.kind, descriptor);
  }

  get(kind: string): D | undefined {
    return this.kinds.get(kind);
  }

  /**
   * The kind a config entry names, and the entry over that kind's defaults (so one built by hand
   * may leave them out), as a fresh object that shares nothing with the defaults. Throws for a kind
   * not registered: the config loader has already refused those, so this is a caller's mistake.
   */
  resolve<C extends { kind: string }>(config: C): { kind: D; config: C } {
    const kind = this.kinds.get(config.kind);
    if (!kind) throw new Error(`${this.what}s: unknown kind "${config.kind}" (known: ${this.names().join(', ')})`);
    return { kind, config: structuredClone({ ...kind.defaults, ...config }) };
  }

  /** In registration order (the order config errors list them in). */
  names(): string[] {
    return [...this.kinds.keys()];
  }
}
