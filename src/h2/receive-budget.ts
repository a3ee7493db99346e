/**
 * Bytes a group of connections may give back to their peers' connection windows as soon as they
 * arrive, before the streams' owners have consumed them; shared by the group.
 *
 * Connection flow control (RFC 9113 §6.9) couples every stream of a connection: bytes one owner
 * holds (an answer waiting for a client that does not read) keep the connection's window shut for
 * all the others. The router shares one connection per endpoint among all the pods of a node, so
 * one pod's unread answers would stall every other pod's calls to that endpoint. Given back at
 * once, each stream holds no more than its own window; the budget bounds what that costs in memory
 * across the group. Spent, bytes go back as they are consumed, as without a budget.
 */
export class ReceiveBudget {
  /** Bytes given back early and not yet consumed. */
  held = 0;

  constructor(public limit: number) {}
}
