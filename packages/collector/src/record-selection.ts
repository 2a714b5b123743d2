import {
  type CollectorTask,
  cursorParamText,
  type PackEntryFields,
  type RawObjectMetadata,
} from '@fanout/shared';

/**
 * The task as it is fetched: a source with a cursor `param` asks for what came after the
 * highest value seen so far, as that query parameter of its first request (next-page links
 * are followed as the upstream writes them). Nothing is added before a value is known.
 */
export function withCursorParam(task: CollectorTask): CollectorTask {
  const param = task.source.cursor?.param;
  if (param === undefined || task.cursor === undefined) return task;
  const url = new URL(task.source.url);
  url.searchParams.append(param, cursorParamText(task.cursor));
  return { ...task, source: { ...task.source, url: url.href } };
}

/**
 * What each page of the task tells the parser about which records to write: for
 * `emit: "changes"`, the raw objects of the previous fetch (from the state); for a cursor,
 * its field and the value the fetch was made with. The parser filters with exactly these,
 * so a retry or a reparse of the page writes the same records.
 */
export function pageSelection(
  task: CollectorTask,
): Pick<PackEntryFields, 'emit' | 'previousRawKeys' | 'cursor'> &
  Pick<RawObjectMetadata, 'previousRawKeys' | 'cursor'> {
  const { emit, cursor } = task.source;
  return {
    ...(emit === 'changes' ? { emit } : {}),
    ...(emit === 'changes' && task.previousRawKeys !== undefined
      ? { previousRawKeys: task.previousRawKeys }
      : {}),
    ...(cursor !== undefined
      ? {
          cursor: {
            field: cursor.field,
            ...(task.cursor !== undefined ? { value: task.cursor } : {}),
          },
        }
      : {}),
  };
}
