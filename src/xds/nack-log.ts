import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** A stream logs at most one NACK per this long: a client re-NACKing in a loop writes one line, not thousands. */
export const NACK_LOG_STREAM_INTERVAL_MS = 10_000;
/** Over all streams, at most this many NACK lines per window: a fleet rejecting one bad change is a sample, not a flood. */
export const NACK_LOG_LINES_PER_WINDOW = 20;
export const NACK_LOG_WINDOW_MS = 10_000;

/** What a stream keeps for the NACK log: when it last wrote a line (clock ms). */
export interface NackLogStream {
  nackLoggedAt: number;
}

/**
 * The NACK warn line, rate-limited per stream and over the process (a client chooses how often it
 * NACKs and with what 2,000-character message). Every NACK is still counted
 * (`kgr_xds_nacks_total`) and kept as its stream's last NACK for the admin; a line says how many
 * NACKs went unlogged since the line before it (`notLogged`).
 */
export class NackLog {
  private windowStart = -Infinity;
  private lines = 0;
  private notLogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  rejected(stream: NackLogStream, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    if (now - this.windowStart >= NACK_LOG_WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (now - stream.nackLoggedAt < NACK_LOG_STREAM_INTERVAL_MS || this.lines >= NACK_LOG_LINES_PER_WINDOW) {
      this.notLogged++;
      return;
    }
    this.lines++;
    stream.nackLoggedAt = now;
    this.log.warn('xDS client rejected a response (NACK)', this.notLogged > 0 ? { ...fields, notLogged: this.notLogged } : fields);
    this.notLogged = 0;
  }
}
