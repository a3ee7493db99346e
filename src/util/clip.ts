/** `text` cut to `max` characters, marked with `…` when cut: for messages that quote something long. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
