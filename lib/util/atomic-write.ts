/**
 * Atomic file replacement: the new contents go to a temporary file in the target's directory,
 * which is flushed to disk (fsync) and then renamed over the target, and the directory is fsynced
 * so the rename itself survives a crash. Readers see the old file or the new one, never a mix;
 * a failure (or a crash) before the rename leaves the old file untouched. A failure removes the
 * temporary file; only a crash of the process itself can leave one behind, named
 * `.<target name>.<pid>.<random>.tmp` so it is easy to recognise. A target that is a symlink is
 * written through (the file it names is replaced, the link stays), and an existing target keeps
 * its permission bits.
 */
import { randomBytes } from 'node:crypto';
import { open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** The temporary-file pattern atomicWrite uses next to `target`. */
export function isAtomicTemp(name: string, target: string): boolean {
  const base = path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${base}\\.\\d+\\.[0-9a-f]+\\.tmp$`).test(name);
}

/**
 * Writes `target` atomically: `write` fills a fresh temporary file through its handle; when it
 * resolves the file is fsynced and renamed over `target`. When `write` throws, the temporary file
 * is removed, `target` keeps its old contents, and the error is rethrown.
 */
export async function atomicWrite(target: string, write: (file: FileHandle) => Promise<void>): Promise<void> {
  // Through a symlink to the file it names (a missing target, or a dangling link, stays as given).
  const full = await realpath(path.resolve(target)).catch(() => path.resolve(target));
  const mode = await stat(full).then((st) => st.mode & 0o777, () => undefined); // a new file: 0o644 less the umask
  const dir = path.dirname(full);
  const tmp = path.join(dir, `.${path.basename(full)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(tmp, 'wx', 0o644);
  let renamed = false;
  try {
    let failed = false;
    let failure: unknown;
    try {
      if (mode !== undefined) await file.chmod(mode);
      await write(file);
      await file.sync();
    } catch (err) {
      failed = true;
      failure = err;
    }
    // A failure to close must not hide the write's own error.
    await file.close().catch((err: unknown) => {
      if (!failed) [failed, failure] = [true, err];
    });
    if (failed) throw failure;
    await rename(tmp, full);
    renamed = true;
  } finally {
    if (!renamed) await rm(tmp, { force: true }).catch(() => {}); // the error being thrown is the one to see
  }
  await syncDirectory(dir);
}

/** Writes the chunks, in order, to `target` atomically. */
export async function atomicWriteFile(target: string, chunks: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const list = chunks instanceof Uint8Array ? [chunks] : chunks;
  await atomicWrite(target, async (file) => {
    for (const c of list) await writeFully(file, c);
  });
}

/** Largest single write: fs refuses lengths of 2 GiB and more (a replay buffer can exceed that). */
const MAX_WRITE = 1 << 30;

/** FileHandle.write may write less than asked: loop (in ≤ 1 GiB pieces) until the chunk is down. */
export async function writeFully(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, done, Math.min(chunk.byteLength - done, MAX_WRITE));
    done += bytesWritten;
  }
}

// Makes the rename durable. Some platforms and file systems cannot fsync a directory; there the
// rename is as durable as they allow, and that is not an error.
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}
