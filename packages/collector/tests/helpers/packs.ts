import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { type PackEntry, type PackHeader, packEntryBody, readPack } from '@fanout/shared';

/** Generous: test bodies stay far below it. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface ReadBackPack {
  readonly header: PackHeader;
  readonly entries: PackEntry[];
  /** Each entry's body, decoded to the bytes it was made from. */
  readonly bodies: Buffer[];
}

/** Reads a stored pack back with the contract's reader, the way the parser does. */
export async function readBackPack(bytes: Buffer | Readable): Promise<ReadBackPack> {
  let header: PackHeader | undefined;
  const entries: PackEntry[] = [];
  const input = Buffer.isBuffer(bytes) ? Readable.from([bytes]) : bytes;
  for await (const item of readPack(input, { maxLineBytes: MAX_LINE_BYTES })) {
    if (item.kind === 'header') {
      header = item.header;
    } else if (item.entry) {
      entries.push(item.entry);
    } else {
      throw new Error(`entry ${item.index} does not validate: ${item.problem}`);
    }
  }
  if (!header) throw new Error('pack has no header');
  return { header, entries, bodies: entries.map(packEntryBody) };
}

/** Counts the commands an S3 client sends (each PUT-class request is billed). */
export function recordCommands(client: S3Client): {
  readonly commands: { name: string; key: string | undefined }[];
  puts(): string[];
  stop(): void;
} {
  const name = `recordCommands-${Math.random().toString(36).slice(2)}`;
  const commands: { name: string; key: string | undefined }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: string };
      commands.push({ name: context.commandName ?? '', key: input.Key });
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    commands,
    /** Keys written by PUT-class requests (PutObject, and every multipart request). */
    puts: () =>
      commands
        .filter((c) =>
          /^(PutObject|CreateMultipartUpload|UploadPart|CompleteMultipartUpload)/.test(c.name),
        )
        .map((c) => `${c.name.replace(/Command$/, '')} ${c.key ?? ''}`),
    stop: () => {
      client.middlewareStack.remove(name);
    },
  };
}
