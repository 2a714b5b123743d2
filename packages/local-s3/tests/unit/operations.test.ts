import { describe, expect, it } from 'vitest';
import { classifyS3Request, eventPatternMatches } from '../../src/index.js';

describe('classifyS3Request', () => {
  it.each([
    ['GET', '/b/k%20x', {}, 'GET', 'k x'],
    ['GET', '/b?list-type=2&prefix=raw%2F', {}, 'LIST', undefined],
    ['GET', '/', {}, 'LIST', undefined],
    ['HEAD', '/b/k', {}, 'HEAD', 'k'],
    ['PUT', '/b/k', {}, 'PUT', 'k'],
    ['PUT', '/b/k', { 'x-amz-copy-source': '/b/j' }, 'COPY', 'k'],
    ['PUT', '/b', {}, 'PUT', undefined],
    ['POST', '/b/k?uploads', {}, 'POST', 'k'],
    ['POST', '/b?delete', {}, 'DELETE', undefined],
    ['DELETE', '/b/k', {}, 'DELETE', 'k'],
    ['OPTIONS', '/b/k', {}, 'OTHER', 'k'],
  ])('%s %s is %s', (method, url, headers, operation, key) => {
    const classified = classifyS3Request(method, url, headers);
    expect(classified.operation).toBe(operation);
    expect(classified.key).toBe(key);
  });

  it('bills CompleteMultipartUpload as a POST', () => {
    expect(classifyS3Request('POST', '/b/k?uploadId=abc', {})).toMatchObject({
      operation: 'POST',
      bucket: 'b',
      key: 'k',
    });
  });

  it('keeps dot segments of a key as sent (no URL normalisation)', () => {
    expect(classifyS3Request('PUT', '/b/a/../c', {})).toMatchObject({ bucket: 'b', key: 'a/../c' });
  });
});

describe('eventPatternMatches', () => {
  it.each([
    ['s3:ObjectCreated:*', 'ObjectCreated:Put', true],
    ['s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload', true],
    ['s3:ObjectCreated:Put', 'ObjectCreated:Put', true],
    ['s3:ObjectCreated:Put', 'ObjectCreated:Copy', false],
    ['s3:ObjectCreated:*', 'ObjectRemoved:Delete', false],
    ['s3:ObjectRemoved:*', 'ObjectCreated:Put', false],
  ])('%s covers %s: %s', (pattern, eventName, expected) => {
    expect(eventPatternMatches(pattern, eventName)).toBe(expected);
  });
});
