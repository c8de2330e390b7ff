/** Worker-thread entry of the streaming `preprocess` (see chunk.ts and ../chunk-pool.ts). */
import { transferring } from '../chunk-pool.js';
import { resultBuffers, runChunk, type ChunkJob, type ChunkResult } from './chunk.js';
import { prepareSteps } from './steps.js';

export default async function work(job: ChunkJob): Promise<ChunkResult> {
  await prepareSteps(job.steps);
  const r = runChunk(job, true); // the job arrived by transfer or copy: its arrays are this thread's
  // the processed batch moves to the stage's thread rather than being copied (4–8 MB a batch)
  return transferring(r, resultBuffers(r));
}
