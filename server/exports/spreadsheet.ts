/**
 * Spreadsheet-safe text cells (docs/exports.md). No imports: the console's client-side CSV uses
 * it too.
 */

/** Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection), and the escape itself. */
const FORMULA_START = /^[=+\-@\t\r']/;

/** `=SUM(A1)` → `'=SUM(A1)`. A leading apostrophe is escaped the same way, so `restore` is exact. */
export const neutralise = (text: string) => (FORMULA_START.test(text) ? `'${text}` : text);

/** The inverse of `neutralise`: drops one leading apostrophe. */
export const restore = (cell: string) => (cell.startsWith("'") ? cell.slice(1) : cell);
