import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';

/**
 * Typed access to the parts of s3rver 3.7 that the local S3 builds on: its
 * filesystem store (which `LocalObjectStore` extends) and its error class (which
 * its error middleware turns into S3's XML answer; any other error becomes a 500).
 */
const require = createRequire(import.meta.url);

/** s3rver's object model (lib/models/object.js). */
export interface S3rverObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream | Readable | null;
  readonly metadata: Record<string, string>;
  range?: { start: number; end: number };
}

export interface ListObjectsOptions {
  readonly delimiter?: string;
  readonly startAfter?: string;
  readonly prefix?: string;
  readonly maxKeys?: number;
}

export interface ListObjectsResult {
  objects: S3rverObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}

/** The methods of s3rver's FilesystemStore (lib/stores/filesystem.js) that are overridden or used. */
export interface FilesystemStore {
  readonly rootDirectory: string;
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3rverObject | null>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata: Record<string, string> | null,
  ): Promise<Record<string, string | number>>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult>;
}

interface FilesystemStoreClass {
  new (rootDirectory: string): FilesystemStore;
  encodeKeyPath(key: string): string;
  decodeKeyPath(keyPath: string): string;
}

interface S3ObjectClass {
  new (
    bucket: string,
    key: string,
    content: S3rverObject['content'],
    metadata: Record<string, string | number>,
  ): S3rverObject;
  readonly ALLOWED_METADATA: readonly string[];
}

interface S3ErrorClass {
  new (code: string, message: string, detail?: Record<string, string | number>): Error;
}

export const S3rverFilesystemStore =
  require('s3rver/lib/stores/filesystem.js') as FilesystemStoreClass;
export const S3rverObjectModel = require('s3rver/lib/models/object.js') as S3ObjectClass;
export const S3rverError = require('s3rver/lib/models/error.js') as S3ErrorClass;
