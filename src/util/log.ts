/**
 * Structured logging: one JSON object a line on stderr (or `text` for humans). Rooms take a Logger
 * and add their own fields with `child`, so every line says where it came from.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  constructor(
    private readonly options: { level: LogLevel; format: LogFormat; sink: LogSink },
    private readonly fields: Readonly<Record<string, unknown>> = {},
  ) {}

  static create(options: Partial<{ level: LogLevel; format: LogFormat; sink: LogSink }> = {}): Logger {
    return new Logger({ level: options.level ?? 'info', format: options.format ?? 'json', sink: options.sink ?? process.stderr });
  }

  /** A logger that writes nothing (tests that do not look at logs). */
  static silent(): Logger {
    return new Logger({ level: 'error', format: 'json', sink: { write() {} } }, {}).withLevel('silent' as LogLevel);
  }

  get level(): LogLevel {
    return this.options.level;
  }

  /** Change the level in place (admin `/logging` control); children share it. */
  setLevel(level: LogLevel): void {
    (this.options as { level: LogLevel }).level = level;
  }

  withLevel(level: LogLevel): Logger {
    return new Logger({ ...this.options, level }, this.fields);
  }

  child(fields: Record<string, unknown>): Logger {
    const child = new Logger(this.options, { ...this.fields, ...fields });
    return child;
  }

  enabled(level: LogLevel): boolean {
    return (RANK[level] ?? 0) >= (RANK[this.options.level] ?? Infinity);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const record = { time: new Date().toISOString(), level, msg, ...this.fields, ...fields };
    if (this.options.format === 'json') {
      this.options.sink.write(JSON.stringify(record, errorReplacer) + '\n');
    } else {
      const extra = Object.entries({ ...this.fields, ...fields })
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, errorReplacer)}`)
        .join(' ');
      this.options.sink.write(`${record.time} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? ' ' + extra : ''}\n`);
    }
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}
