/** A column of a fixed-width terminal table. */
export interface Column {
  title: string;
  width: number;
  alignRight?: boolean;
}

/** One table row: each cell fitted to its column, two spaces between columns. */
export function formatRow(columns: readonly Column[], cells: readonly string[]): string {
  return columns
    .map((column, index) => fitCell(cells[index] ?? "", column))
    .join("  ")
    .trimEnd();
}

/** Clips or pads a cell to its column's width. */
export function fitCell(text: string, column: Column): string {
  // Tool names, sessions and errors come from untrusted peers: control characters must not reach the terminal.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  const clipped = clean.length > column.width ? `${clean.slice(0, column.width - 1)}…` : clean;
  return column.alignRight ? clipped.padStart(column.width) : clipped.padEnd(column.width);
}

/** A whole table: a header row and one line per row, each column as wide as its widest cell (up to `maxWidth`). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], maxWidth = 60): string {
  const columns: Column[] = headers.map((title, index) => ({
    title,
    width: Math.min(maxWidth, Math.max(title.length, ...rows.map((row) => (row[index] ?? "").length))),
  }));
  const lines = [formatRow(columns, headers), ...rows.map((row) => formatRow(columns, row))];
  return `${lines.join("\n")}\n`;
}
