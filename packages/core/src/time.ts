// UTC calendar arithmetic without Date (days-from-civil after H. Hinnant), for MDTM, MFMT and LIST.

export interface Civil {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millis: number;
}

const DAY = 86_400_000;

function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromMillis(ms: number): Civil {
  const days = Math.floor(ms / DAY);
  const rest = ms - days * DAY;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return {
    year,
    month,
    day,
    hour: Math.floor(rest / 3_600_000),
    minute: Math.floor((rest % 3_600_000) / 60_000),
    second: Math.floor((rest % 60_000) / 1000),
    millis: rest % 1000,
  };
}

export function millisFromCivil(c: Civil): number {
  return daysFromCivil(c.year, c.month, c.day) * DAY + c.hour * 3_600_000 + c.minute * 60_000 + c.second * 1000 + c.millis;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

export function formatMdtm(ms: number): string {
  const c = civilFromMillis(ms);
  return `${pad(c.year, 4)}${pad(c.month, 2)}${pad(c.day, 2)}${pad(c.hour, 2)}${pad(c.minute, 2)}${pad(c.second, 2)}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** YYYYMMDDHHMMSS[.fff…] in UTC, checked against the calendar; null when not a real instant. */
export function parseMdtmTime(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?$/.exec(s);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return null;
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return millisFromCivil({ year, month, day, hour, minute, second, millis });
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** vsftpd's cut-off: older (or future) times show the year, recent ones the time of day. */
const RECENT = 182 * DAY;

export function formatListDate(mtime: number, now: number): string {
  const c = civilFromMillis(mtime);
  const head = `${MONTHS[c.month - 1] ?? "Jan"} ${pad(c.day, 2)}`;
  if (mtime <= now && now - mtime < RECENT) return `${head} ${pad(c.hour, 2)}:${pad(c.minute, 2)}`;
  return `${head}  ${pad(c.year, 4)}`;
}
