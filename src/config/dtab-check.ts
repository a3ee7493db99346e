// TEMP until the dtab engine lands: replaced by parseDtab.
export interface DtabProblem {
  line: number;
  column: number;
  message: string;
}
export function checkDtab(_text: string, _source: string): DtabProblem | undefined {
  return undefined;
}
