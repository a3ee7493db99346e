/**
 * Where a character of a YAML string value sits in the file. A dtab error's line and column are
 * relative to the dtab text; operators need them relative to the YAML file they edit.
 *
 * Every non-blank character of a literal, folded, plain or simply quoted scalar appears in the
 * source in the same order, so walking both side by side and skipping whitespace (indentation,
 * folding) finds it. Escapes in double-quoted strings can misalign this; the result then still
 * lands inside the value.
 */
export function valueOffsetToSource(source: string, nodeStart: number, nodeEnd: number, value: string, valueOffset: number): number {
  // Skip a block scalar header (`|`, `>-`, `|2+` …) and the rest of its line.
  let s = nodeStart;
  if (source[s] === '|' || source[s] === '>') {
    const nl = source.indexOf('\n', s);
    s = nl < 0 ? nodeEnd : nl + 1;
  } else if (source[s] === '"' || source[s] === "'") {
    s += 1;
  }
  // The last non-blank character at or before valueOffset decides; an error at a blank points just after it.
  let target = Math.min(valueOffset, value.length);
  let after = 0;
  while (target > 0 && (target >= value.length || /\s/.test(value[target]!))) {
    target -= 1;
    after = 1;
  }
  if (value.length === 0 || /\s/.test(value[target] ?? ' ')) return s;
  for (let i = 0; i <= target; i++) {
    const c = value[i]!;
    if (/\s/.test(c)) continue;
    while (s < nodeEnd && source[s] !== c) s++;
    if (s >= nodeEnd) return nodeStart;
    if (i < target) s++;
  }
  return s + after;
}

/** Offset of a 1-based line and column in text. */
export function lineColumnToOffset(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(offset + column - 1, text.length);
}
