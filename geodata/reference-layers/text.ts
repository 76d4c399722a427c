/**
 * Text and CSV decoding for layer files. Chinese offices often save CSV from Excel in GBK rather
 * than UTF-8, so bytes that are not valid UTF-8 are read as GBK (GB18030, its superset), and a
 * byte-order mark picks UTF-8 or UTF-16.
 */

/** Decodes file bytes: BOM first, else UTF-8 when valid, else GBK. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder('utf-8').decode(bytes.subarray(3));
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('gb18030').decode(bytes);
  }
}

/** One CSV record with the 1-based row number a spreadsheet shows for it (the header is row 1). */
export interface CsvRecord {
  row: number;
  fields: string[];
}

/** Picks the delimiter from the header line: comma unless tabs or semicolons are clearly meant. */
function sniffDelimiter(text: string): string {
  const end = text.search(/\r?\n/);
  const header = end < 0 ? text : text.slice(0, end);
  const count = (ch: string): number => header.split(ch).length - 1;
  const candidates: [string, number][] = [[',', count(',')], ['\t', count('\t')], [';', count(';')]];
  candidates.sort((a, b) => b[1] - a[1]);
  const best = candidates[0] as [string, number];
  return best[1] > 0 ? best[0] : ',';
}

/**
 * Splits CSV text into records (RFC 4180: quoted fields may hold delimiters, quotes doubled as "",
 * and line breaks; CRLF or LF). Records that are entirely empty are dropped. A leading BOM is
 * ignored. Returns `{ error, row }` when a quoted field never closes.
 */
export function parseCsv(input: string): { delimiter: string; records: CsvRecord[] } | { error: string; row: number } {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const delimiter = sniffDelimiter(text);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let recordNumber = 1;
  let quoteStartRecord = 0;
  let i = 0;
  const endRecord = (): void => {
    fields.push(field);
    if (fields.length > 1 || (fields[0] as string).trim() !== '') records.push({ row: recordNumber, fields });
    recordNumber++;
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && field.trim() === '') {
      quoted = true;
      quoteStartRecord = recordNumber;
      field = '';
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      if (ch === '\r' && text[i + 1] === '\n') i++;
    } else {
      field += ch;
    }
    i++;
  }
  if (quoted) return { error: 'a quoted field is never closed', row: quoteStartRecord };
  if (field !== '' || fields.length > 0) endRecord();
  return { delimiter, records };
}
