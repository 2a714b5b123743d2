import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { csv, type ExtractorContext, loadConfig, RawJsonSpans, RecordBatch } from '@fanout/parser';
import { parse as fastCsv } from '@fast-csv/parse';
import { parse as csvParse6 } from 'csv-parse';
import { parse as csvParse7 } from 'csv-parse-7';
import csvParser from 'csv-parser';
import Papa from 'papaparse';
import { inferSchema, initParser } from 'udsv';

/**
 * Each CSV library on npm, reading a header row and objects of string fields from a stream of
 * UTF-8 chunks, as the parser's extractor reads its input. `onRecord` sees every record; a
 * library's own error (bad input) rejects.
 */
export type CsvReader = (input: Readable, onRecord: (record: unknown) => void) => Promise<void>;

/** The options the parser's extractor gives csv-parse for a header row, comma, not strict. */
const CSV_PARSE_OPTIONS = {
  columns: true,
  delimiter: ',',
  bom: true,
  skip_empty_lines: true,
  relax_quotes: true,
  relax_column_count: false,
} as const;

/**
 * The parser's own CSV extractor (csv-parse's synchronous core driven one chunk at a time, and
 * what it keeps to locate errors), as `parseStream` runs it on a raw object with a header row.
 */
const parserExtractor: CsvReader = async (input, onRecord) => {
  const context: ExtractorContext = {
    format: 'csv',
    options: { header: true, delimiter: ',' },
    maxRecordBytes: loadConfig({ FANOUT_BUCKET: 'unused' }).maxRecordBytes,
    bytesRead: () => 0,
  };
  for await (const item of csv(input, context)) {
    if (item instanceof RawJsonSpans) {
      // The extractor writes each record's JSON (the parser copies it into the output as is);
      // read back into objects here, like every other library's records.
      item.starts.forEach((start, i) => {
        onRecord(JSON.parse(item.bytes.toString('utf8', start, item.ends[i])));
      });
    } else if (item instanceof RecordBatch) {
      for (const record of item.records) onRecord(record);
    } else {
      onRecord(item);
    }
  }
};

/** A library that is a Transform stream of records. */
function recordStream(create: () => NodeJS.ReadWriteStream): CsvReader {
  return async (input, onRecord) => {
    const stream = create();
    input.once('error', (error) => stream.emit('error', error));
    input.pipe(stream);
    for await (const record of stream as unknown as AsyncIterable<unknown>) onRecord(record);
  };
}

/**
 * uDSV parses strings: chunks are decoded, and its schema (delimiters, columns) is inferred
 * from the text up to the first line end, held back until it has arrived.
 */
const udsv: CsvReader = async (input, onRecord) => {
  const decoder = new StringDecoder('utf8');
  let parser: ReturnType<typeof initParser> | undefined;
  let head = '';
  const feed = (text: string, last: boolean) => {
    if (!parser) {
      head += text;
      if (!last && !head.includes('\n')) return;
      parser = initParser(inferSchema(head, { col: ',', encl: '"' }));
      [text, head] = [head, ''];
    }
    if (text !== '') parser.chunk<Record<string, string>>(text, parser.stringObjs, onRecord);
  };
  for await (const chunk of input) feed(decoder.write(chunk as Buffer), false);
  feed(decoder.end(), true);
  parser?.end();
};

export const CSV_READERS: Readonly<Record<string, CsvReader>> = {
  'csv-parse 6.2.1 in the parser extractor': parserExtractor,
  'csv-parse 6.2.1 (stream)': recordStream(() => csvParse6(CSV_PARSE_OPTIONS)),
  'csv-parse 7.0.3 (stream)': recordStream(() => csvParse7(CSV_PARSE_OPTIONS)),
  'papaparse 5.7.1': recordStream(() =>
    Papa.parse(Papa.NODE_STREAM_INPUT, { header: true, skipEmptyLines: true }),
  ),
  'csv-parser 3.2.1': recordStream(() => csvParser({ strict: true })),
  '@fast-csv/parse 5.0.8 (fast-csv)': recordStream(() =>
    fastCsv({ headers: true, ignoreEmpty: true }),
  ),
  'udsv 0.7.3': udsv,
};

/** The module each reader imports, for its bundle size. */
export const CSV_MODULES: Readonly<Record<string, string>> = {
  'csv-parse 6.2.1 in the parser extractor': 'csv-parse',
  'csv-parse 6.2.1 (stream)': 'csv-parse',
  'csv-parse 7.0.3 (stream)': 'csv-parse-7',
  'papaparse 5.7.1': 'papaparse',
  'csv-parser 3.2.1': 'csv-parser',
  '@fast-csv/parse 5.0.8 (fast-csv)': '@fast-csv/parse',
  'udsv 0.7.3': 'udsv',
};

export interface ThroughputResult {
  readonly bytes: number;
  readonly records: number;
  readonly wallMs: number;
  /** User + system CPU of this process: less sensitive than wall time to a busy machine. */
  readonly cpuMs: number;
  /** The last record, to check the library read the fields the way the others did. */
  readonly last: unknown;
}

/** One library over one file, in this (fresh) process. */
export async function readerThroughput(name: string, file: string): Promise<ThroughputResult> {
  const reader = CSV_READERS[name];
  if (!reader) throw new Error(`no CSV library ${JSON.stringify(name)}`);
  let records = 0;
  let last: unknown;
  let bytes = 0;
  const input = createReadStream(file);
  input.on('data', (chunk) => {
    bytes += chunk.length;
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await reader(input, (record) => {
    records += 1;
    last = record;
  });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { bytes, records, wallMs, cpuMs: (used.user + used.system) / 1000, last };
}

interface Conformance {
  readonly name: string;
  readonly input: string;
  /** The records expected, or 'error' for input that must be rejected. */
  readonly expected: readonly Record<string, string>[] | 'error';
}

/**
 * RFC 4180 behaviour the parser keeps (golden tests pin it), and the errors it must report.
 * Every input is also fed one byte per chunk: a streaming reader must not depend on where
 * the chunks of a response happen to end.
 */
export const CONFORMANCE: readonly Conformance[] = [
  {
    name: 'quoted newlines',
    input: 'id,note\r\n1,"a\r\nb"\r\n2,"c\nd"\r\n',
    expected: [
      { id: '1', note: 'a\r\nb' },
      { id: '2', note: 'c\nd' },
    ],
  },
  {
    name: 'escaped quotes',
    input: 'id,note\n1,"say ""hi"""\n2,""""\n',
    expected: [
      { id: '1', note: 'say "hi"' },
      { id: '2', note: '"' },
    ],
  },
  {
    name: 'CRLF',
    input: 'id,note\r\n1,x\r\n2,"y"\r\n',
    expected: [
      { id: '1', note: 'x' },
      { id: '2', note: 'y' },
    ],
  },
  { name: 'unclosed quote rejected', input: 'id,note\n1,"abc\n2,x\n', expected: 'error' },
  { name: 'extra field rejected', input: 'id,note\n1,x,y\n2,z\n', expected: 'error' },
];

function chunksOf(text: string, size: number): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks, { objectMode: false });
}

async function readAll(reader: CsvReader, input: Readable): Promise<unknown[] | Error> {
  const records: unknown[] = [];
  try {
    await reader(input, (record) => records.push(record));
    return records;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

export interface ConformanceResult {
  readonly passed: readonly string[];
  readonly failed: readonly string[];
  /** What the library said about the unclosed quote (where it locates the error, if it does). */
  readonly unclosedQuoteError: string;
}

/** Which of CONFORMANCE the library meets, whole and one byte at a time. */
export async function conformance(name: string): Promise<ConformanceResult> {
  const reader = CSV_READERS[name];
  if (!reader) throw new Error(`no CSV library ${JSON.stringify(name)}`);
  const passed: string[] = [];
  const failed: string[] = [];
  let unclosedQuoteError = 'no error';
  for (const check of CONFORMANCE) {
    const ok: boolean[] = [];
    for (const size of [64 * 1024, 1]) {
      const got = await readAll(reader, chunksOf(check.input, size));
      if (check.expected === 'error') {
        ok.push(got instanceof Error);
        if (got instanceof Error && check.name.startsWith('unclosed') && size > 1) {
          unclosedQuoteError = got.message.slice(0, 160);
        }
      } else {
        ok.push(!(got instanceof Error) && JSON.stringify(got) === JSON.stringify(check.expected));
      }
    }
    const [whole, byteByByte] = ok;
    if (whole && byteByByte) passed.push(check.name);
    else failed.push(whole ? `${check.name} (in 1-byte chunks)` : check.name);
  }
  return { passed, failed, unclosedQuoteError };
}
