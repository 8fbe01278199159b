/** Turns a tagged template into SQL text with `$n` placeholders and its bind values. */
export function toQuery(
  strings: TemplateStringsArray,
  values: readonly unknown[],
): { text: string; params: unknown[] } {
  let text = strings[0] ?? "";
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
  return { text, params: values.map(toParam) };
}

function toParam(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return value;
}
