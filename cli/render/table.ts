/**
 * Columns aligned as Go's tabwriter aligns docker's and compose's tables: each column as
 * wide as its widest cell plus `padding`, at least `minWidth`; the last column unpadded.
 */
export function formatTable(rows: readonly (readonly string[])[], opts: { padding: number; minWidth?: number }): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length + opts.padding, opts.minWidth ?? 0)));
  return rows.map((row) => `${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('')}\n`).join('');
}
