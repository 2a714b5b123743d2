import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadLetterNotFoundError } from './errors.js';
import type { DeadLetter } from './types.js';

const ID_PATTERN = /^[0-9a-f-]{36}$/;

/**
 * The on-failure destination of every function's async events: one JSON file per
 * event under <home>/dead-letters/<function>/<id>.json, so a later process
 * (`fanout replay`) can read and re-deliver them.
 */
export class DeadLetterStore {
  private readonly root: string;

  constructor(home: string) {
    this.root = join(home, 'dead-letters');
  }

  async put(letter: DeadLetter): Promise<void> {
    const dir = join(this.root, letter.functionName);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${letter.id}.json`);
    // Write then rename, so a reader never sees half a file.
    await writeFile(`${file}.tmp`, `${JSON.stringify(letter, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  async list(): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for (const functionName of await listDir(this.root)) {
      for (const file of await listDir(join(this.root, functionName))) {
        if (!file.endsWith('.json')) continue;
        const text = await readFile(join(this.root, functionName, file), 'utf8');
        letters.push(JSON.parse(text) as DeadLetter);
      }
    }
    return letters.sort((a, b) => a.lastAttemptAt.localeCompare(b.lastAttemptAt));
  }

  async get(id: string): Promise<{ letter: DeadLetter; file: string }> {
    if (ID_PATTERN.test(id)) {
      for (const functionName of await listDir(this.root)) {
        const file = join(this.root, functionName, `${id}.json`);
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text !== undefined) return { letter: JSON.parse(text) as DeadLetter, file };
      }
    }
    throw new DeadLetterNotFoundError(id);
  }

  async remove(file: string): Promise<void> {
    await unlink(file);
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
