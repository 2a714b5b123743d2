import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig, ParserConfigError } from '../../src/index.js';

describe('loadConfig', () => {
  it('uses the defaults when only the bucket is set', () => {
    expect(loadConfig({ FANOUT_BUCKET: 'b' })).toEqual({ bucket: 'b', ...DEFAULTS });
  });

  it('reads each setting', () => {
    const config = loadConfig({
      FANOUT_BUCKET: 'b',
      FANOUT_MAX_RAW_BYTES: '1000',
      FANOUT_MAX_RECORD_BYTES: '100',
      FANOUT_MAX_PACK_LINE_BYTES: '2048',
      FANOUT_GZIP_LEVEL: '9',
      FANOUT_UPLOAD_PART_BYTES: String(6 * 1024 * 1024),
      FANOUT_UPLOAD_QUEUE_SIZE: '4',
    });
    expect(config).toEqual({
      bucket: 'b',
      maxRawBytes: 1000,
      maxRecordBytes: 100,
      maxPackLineBytes: 2048,
      gzipLevel: 9,
      uploadPartBytes: 6 * 1024 * 1024,
      uploadQueueSize: 4,
    });
  });

  it('names the variable that is missing or out of range', () => {
    expect(() => loadConfig({})).toThrow(ParserConfigError);
    expect(() => loadConfig({})).toThrow(/^FANOUT_BUCKET: is required/);
    expect(() => loadConfig({ FANOUT_BUCKET: 'b', FANOUT_GZIP_LEVEL: '11' })).toThrow(
      'FANOUT_GZIP_LEVEL: must be an integer from 0 to 9, got "11"',
    );
    expect(() => loadConfig({ FANOUT_BUCKET: 'b', FANOUT_UPLOAD_PART_BYTES: '1024' })).toThrow(
      /FANOUT_UPLOAD_PART_BYTES: must be an integer from 5242880/,
    );
  });
});
