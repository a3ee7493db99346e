/**
 * One thing wrong with a config file, with where it is. The loader collects all of them before
 * failing, so a user fixes a file in one pass instead of one error per run.
 */
export interface ConfigIssue {
  /** Key path such as `routers[0].servers[0].port`; empty for the document itself. */
  path: string;
  message: string;
  file: string;
  line: number;
  column: number;
}

/** `routers[0].servers[0].port: expected an integer 1-65535, got "41a0" (config.yaml:12:13)` */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path ? `${issue.path}: ` : ''}${issue.message} (${issue.file}:${issue.line}:${issue.column})`;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
  }
}
