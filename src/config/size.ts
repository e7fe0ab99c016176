/**
 * Byte sizes in routes.yaml (`max_body`): a non-negative integer of bytes, or a number
 * with a unit. Units are binary, as in most Node tooling: `kb`/`kib` = 1024,
 * `mb`/`mib` = 1024², `gb`/`gib` = 1024³; `b` is bytes. Case-insensitive.
 */

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/;

/** Parse a size into bytes. Throws `RangeError` with a message fit for a config issue. */
export function parseByteSize(v: string | number): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw new RangeError('a size must be a whole number of bytes or a string such as 512kb or 1mb');
  }
  const m = SIZE.exec(v.trim().toLowerCase());
  const unit = m?.[2] ?? 'b';
  const mult = UNITS[unit];
  if (m === null || mult === undefined) throw new RangeError('a size must be bytes or use b, kb, mb or gb (e.g. 512kb, 1mb)');
  const bytes = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(bytes)) throw new RangeError('the size is too large');
  return bytes;
}

/** Human form for summaries: `1 MiB`, `512 KiB`, `1000 B`. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
