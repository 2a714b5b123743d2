/**
 * `x-amz-copy-source` is URL-encoded: `+` must be %2B (else S3 reads a space),
 * spaces and non-ASCII as %XX. Sub-delimiters such as `=` (in every raw key:
 * `source=`, `dt=`) stay literal: S3 accepts them, and s3rver decodes the
 * header with decodeURI, which would leave %3D undecoded.
 */
export function copySource(bucket: string, key: string): string {
  const encoded = key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(/%(3D|3A|40|2C|3B|24|26)/g, (sequence) =>
        decodeURIComponent(sequence),
      ),
    )
    .join('/');
  return `${bucket}/${encoded}`;
}
