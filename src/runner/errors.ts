/** User-facing errors that point at a place in a file. Printed without a stack trace. */

export interface SourcePos {
  line: number;
  col: number;
}

export interface Located {
  file: string;
  pos?: SourcePos;
  message: string;
}

export function formatLocated(e: Located): string {
  return e.pos ? `${e.file}:${e.pos.line}:${e.pos.col}: ${e.message}` : `${e.file}: ${e.message}`;
}

/** One or more problems with a pipeline file; the CLI prints each and exits 1. */
export class PipelineError extends Error {
  constructor(public readonly problems: Located[]) {
    super(problems.map(formatLocated).join('\n'));
    this.name = 'PipelineError';
  }
}

/** A user error not tied to a pipeline position (bad CLI argument, missing run, …). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
