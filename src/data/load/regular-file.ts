/**
 * Loaders read regular files only: /dev/zero would be read for ever, a FIFO with
 * no writer blocks for ever, a directory fails with an unhelpful EISDIR.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { StageError } from '../../core/stage-api.js';
import { describeFileType } from '../../util/file-type.js';

export async function assertRegularFile(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new StageError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, basename(path));
  }
  if (st.isFile()) return;
  throw new StageError(`${path} is ${describeFileType(st)}, not a regular file`, basename(path));
}
