/**
 * A RUN --mount value is one CSV record (`type=cache,target=/root/.cache,id="a,b"`), read the
 * way BuildKit reads it (tonistiigi/go-csvvalue: RFC 4180 quoting, no lazy quotes).
 */

/** The record's fields, quotes resolved. Throws Error with a CSV-style message when malformed. */
export function splitMountFields(value: string): string[] {
  if (value === '') throw new Error('empty mount specification');
  const fields: string[] = [];
  let pos = 0;
  for (;;) {
    if (value[pos] !== '"') {
      const comma = value.indexOf(',', pos);
      const field = comma < 0 ? value.slice(pos) : value.slice(pos, comma);
      const quote = field.indexOf('"');
      if (quote >= 0) throw new Error(`bare " in non-quoted field at column ${pos + quote + 1}`);
      fields.push(field);
      if (comma < 0) return fields;
      pos = comma + 1;
      continue;
    }
    let field = '';
    pos++;
    for (;;) {
      const quote = value.indexOf('"', pos);
      if (quote < 0) throw new Error(`extraneous or missing " in quoted field at column ${pos + 1}`);
      field += value.slice(pos, quote);
      pos = quote + 1;
      if (value[pos] === '"') {
        field += '"';
        pos++;
        continue;
      }
      if (pos === value.length) {
        fields.push(field);
        return fields;
      }
      if (value[pos] !== ',') throw new Error(`extraneous or missing " in quoted field at column ${pos}`);
      fields.push(field);
      pos++;
      break;
    }
  }
}

/** The inverse of splitMountFields: quotes only the fields that need it. */
export function joinMountFields(fields: readonly string[]): string {
  return fields.map((f) => (/[",]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(',');
}
