/**
 * A token bucket, as nghttp2 limits the resets it receives (and the namers the watches and names
 * they create): `burst` tokens at first and at most, `perSecond` more each second (continuously,
 * where nghttp2 adds whole seconds' worth: at most one second's refill ahead of it). take() is false
 * when no token is left, and takes none then; giveBack returns one taken for work that did not start.
 */
export class TokenBucket {
  private tokens: number;
  private stamp: number;
  constructor(readonly burst: number, readonly perSecond: number, now: number) {
    this.tokens = burst;
    this.stamp = now;
  }

  take(now: number): boolean {
    if (now > this.stamp) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.stamp) * this.perSecond) / 1000);
      this.stamp = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}
