import { DtabSyntaxError, parseDtab } from '../dtab/index.js';

/** A dtab syntax problem, positioned inside the dtab text (1-based). */
export interface DtabProblem {
  line: number;
  column: number;
  message: string;
}

/** Parse a router's `dtab` at load time so a typo is a config error, not a routing surprise later. */
export function checkDtab(text: string, source: string): DtabProblem | undefined {
  try {
    parseDtab(text, { source });
    return undefined;
  } catch (err) {
    if (err instanceof DtabSyntaxError) return { line: err.line, column: err.column, message: err.reason };
    throw err;
  }
}
