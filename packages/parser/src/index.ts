export {
  charsetOf,
  type DecidedBy,
  decideEncoding,
  type EncodingDecision,
  encodingForLabel,
  type InvalidBytes,
  Utf8Transcoder,
  undeclaredFallback,
  WINDOWS_1252_FALLBACK,
  xmlDeclaredEncoding,
} from './charset.js';
export {
  DEFAULTS,
  loadConfig,
  type OutputSettings,
  PARSER_ENV,
  type ParserConfig,
  type ParserLimits,
  S3_MIN_PART_BYTES,
} from './config.js';
export { decompressorFor } from './content-encoding.js';
export { copySource } from './copy-source.js';
export * from './errors.js';
export {
  type EventDeps,
  type EventSummary,
  handleS3Event,
  type InvalidEventRecord,
  type ParserMetricName,
  type ParserMetrics,
  type RejectedRecord,
} from './event.js';
export { csv } from './formats/csv.js';
export { atom, type FeedRecord, rss } from './formats/feed.js';
export { HTML_PAGE_MAX_BYTES, html } from './formats/html.js';
export { json } from './formats/json.js';
export { MAX_JSON_DEPTH } from './formats/json-validate.js';
export { keyValue } from './formats/key-value.js';
export { isBlank, type Line, readLines } from './formats/lines.js';
export { ndjson } from './formats/ndjson.js';
export {
  BUILT_IN_EXTRACTORS,
  createExtractorRegistry,
  defaultExtractors,
  type ExtractorInput,
  ExtractorRegistry,
  type RegisterOptions,
  registerExtractor,
} from './formats/registry.js';
export {
  type Extractor,
  type ExtractorContext,
  RawJson,
  RawJsonSpans,
  RecordBatch,
  type SpansChecked,
} from './formats/types.js';
export { GzipMemberAssembler } from './gzip-member.js';
export { PARSED_CONTENT_TYPE, type ParsedObjectTarget, ParsedObjectWriter } from './output.js';
export { type PackParseResult, pageName, parsePack, type QuarantinedEntry } from './pack.js';
export {
  bytesSource,
  type Envelope,
  type ParseStats,
  type ParseStreamOptions,
  parseStream,
} from './parse-stream.js';
export {
  type PageDefinition,
  type PageSelection,
  PreviousFetches,
  type PreviousPairs,
  selectionFor,
} from './previous-fetch.js';
export {
  type BadEntry,
  COPY_OBJECT_MAX_BYTES,
  type QuarantinedObject,
  quarantineEntry,
  quarantineObject,
  type WholeObjectFacts,
} from './quarantine.js';
export { type ParserDeps, parseRawObject, type RawObjectResult } from './raw-object.js';
export {
  RECORD_HASH_HEX_DIGITS,
  RecordIdentity,
  recordHash,
  writeRecordHash,
} from './record-identity.js';
export { envelopePrefix, RecordLineWriter } from './record-lines.js';
export {
  cursorValueOf,
  FetchSelection,
  type FetchSelectionOptions,
  PairCollector,
  PREVIOUS_RECORDS_MAX,
  type RecordSelector,
  recordPair,
} from './record-selection.js';
