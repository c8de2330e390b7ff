#!/usr/bin/env node
/** specflow command line: commander wiring only; each command lives in src/commands/. */
import { Command, CommanderError, Option } from 'commander';
import { PipelineError, UserError } from './runner/errors.js';
import { FsProblem, fsErrorCode, fsErrorLine } from './runner/durable.js';
import { collect, positiveInt } from './commands/common.js';

// `specflow cache ls | head`: a reader that stops early ends the command quietly, as it would a C tool
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const program = new Command();
program
  .name('specflow')
  .description('Declarative, reproducible pipelines for machine learning on spectra')
  .version('0.1.0')
  .option('--store <dir>', 'artifact store (default: $SPECFLOW_STORE or ./artifacts)')
  .showHelpAfterError()
  .exitOverride();

const setOpt = (): Option => new Option('--set <key=value>', 'override a pipeline param (repeatable)').argParser(collect);
const sweepOpt = (): Option => new Option('--sweep <key=a,b,c>', 'add or replace a sweep axis (repeatable)').argParser(collect);
const maxVariantsOpt = (): Option => new Option('--max-variants <n>', 'accept sweeps of up to N variants (default 10000)').argParser(positiveInt('--max-variants'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commander options are validated by each command
const globals = (cmd: Command): any => cmd.optsWithGlobals();

program.command('run')
  .description('run a pipeline; stages whose content key is in the store are reused')
  .argument('[file]', 'pipeline YAML file')
  .addOption(setOpt())
  .addOption(sweepOpt())
  .addOption(maxVariantsOpt())
  .addOption(new Option('-j, --jobs <n>', 'stages run at once (default: number of cores)').argParser(positiveInt('--jobs')))
  .option('--force [stages...]', 'recompute these stages (all when none named) even if cached')
  .option('--dry-run', 'show what would run, run nothing')
  .option('--json', 'print one JSON document describing the run on stdout')
  .option('--executor <name>', 'where stages are computed: local, queue (BullMQ workers) or slurm (default: $SPECFLOW_EXECUTOR or local)')
  .option('--redis <url>', 'Redis of the queue executor (default: $SPECFLOW_REDIS)')
  .action(async (file: string | undefined, _o, cmd: Command) => {
    const { runCommand, pipelineArgument } = await import('./commands/run.js');
    const opts = globals(cmd);
    process.exitCode = await runCommand(pipelineArgument(file, opts), opts);
  });

program.command('validate')
  .description('check a pipeline file without running it')
  .argument('<file>')
  .addOption(setOpt())
  .addOption(sweepOpt())
  .addOption(maxVariantsOpt())
  .action(async (file: string, _o, cmd: Command) => {
    const { validateCommand } = await import('./commands/inspect.js');
    process.exitCode = await validateCommand(file, globals(cmd));
  });

program.command('status')
  .description('which stages are cached and which would run')
  .argument('<file>')
  .addOption(setOpt())
  .addOption(sweepOpt())
  .addOption(maxVariantsOpt())
  .option('--explain', 'say why each stage would run: which input, parameter or implementation changed')
  .option('--json', 'machine-readable output')
  .action(async (file: string, _o, cmd: Command) => {
    const { statusCommand } = await import('./commands/status.js');
    process.exitCode = await statusCommand(file, globals(cmd));
  });

program.command('dag')
  .description('print the stage graph')
  .argument('<file>')
  .addOption(setOpt())
  .addOption(sweepOpt())
  .addOption(maxVariantsOpt())
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'))
  .action(async (file: string, _o, cmd: Command) => {
    const { dagCommand } = await import('./commands/inspect.js');
    process.exitCode = await dagCommand(file, globals(cmd));
  });

program.command('stages')
  .description('list every stage type with its ports and parameters')
  .option('--json', 'machine-readable output')
  .action(async (_o, cmd: Command) => {
    const { stagesCommand } = await import('./commands/inspect.js');
    process.exitCode = await stagesCommand(globals(cmd));
  });

program.command('show')
  .description('schema, metadata and first rows of an Arrow artifact (a path, or a content key[:port])')
  .argument('<target>')
  .addOption(new Option('--head <n>', 'rows to show').argParser(positiveInt('--head')).default(5))
  .action(async (target: string, _o, cmd: Command) => {
    const { showCommand } = await import('./commands/inspect.js');
    process.exitCode = await showCommand(target, globals(cmd));
  });

program.command('compare')
  .description('experiments table: one row per variant, parameters then metrics (default: the latest run)')
  .argument('[runs...]', 'run ids (or unique prefixes, or "latest")')
  .option('--pipeline <file>', 'every recorded run of this pipeline')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json', 'html']).default('table'))
  .option('--sort <metric>', 'sort by a column (stage.metric or a unique metric name; prefix - for descending)')
  .action(async (runs: string[], _o, cmd: Command) => {
    const { compareCommand } = await import('./commands/compare.js');
    process.exitCode = await compareCommand(runs, globals(cmd));
  });

program.command('worker')
  .description('compute queued stages (specflow run --executor queue) into the store, until Ctrl-C')
  .option('--redis <url>', 'Redis of the queue (default: $SPECFLOW_REDIS)')
  .addOption(new Option('--concurrency <n>', 'cores kept busy: a stage takes as many as it uses (threads: 2 takes 2; most take 1)').argParser(positiveInt('--concurrency')).default(1))
  .addOption(new Option('--lock-duration <ms>', "BullMQ job lock; a worker silent this long is stalled and its job goes to another (default 30000)").argParser(positiveInt('--lock-duration')))
  .addOption(new Option('--stalled-interval <ms>', 'how often stalled jobs are looked for (default 30000)').argParser(positiveInt('--stalled-interval')))
  .action(async (_o, cmd: Command) => {
    const { workerCommand } = await import('./commands/worker.js');
    process.exitCode = await workerCommand(globals(cmd));
  });

program.command('workers')
  .description('list the live queue workers: host, pid, cores (--concurrency), backend, version, current jobs')
  .option('--redis <url>', 'Redis of the queue (default: $SPECFLOW_REDIS)')
  .option('--json', 'machine-readable output')
  .action(async (_o, cmd: Command) => {
    const { workersCommand } = await import('./commands/worker.js');
    process.exitCode = await workersCommand(globals(cmd));
  });

program.command('exec-stage')
  .description('compute one stage job file into the store (what each SLURM batch job of --executor slurm runs)')
  .argument('<jobfile>', 'stage job (JSON) written by the coordinator')
  .requiredOption('--result <file>', 'where to write the outcome (JSON)')
  .action(async (jobFile: string, _o, cmd: Command) => {
    const { execStageCommand } = await import('./commands/exec-stage.js');
    process.exitCode = await execStageCommand(jobFile, globals(cmd));
  });

const cache = program.command('cache').description('inspect and maintain the artifact store');
cache.command('ls')
  .description('list stored entries')
  .option('--json', 'machine-readable output')
  .action(async (_o, cmd: Command) => {
    const { cacheLs } = await import('./commands/cache.js');
    process.exitCode = await cacheLs(globals(cmd));
  });
cache.command('gc')
  .description('delete entries no recent run uses')
  .addOption(new Option('--keep-runs <n>', 'keep the entries of the newest N runs (default: all runs)').argParser(positiveInt('--keep-runs')))
  .option('--max-size <size>', 'then evict least-recently-used entries until the store fits (e.g. 500M, 2G)')
  .option('--dry-run', 'say what would be removed')
  .action(async (_o, cmd: Command) => {
    const { cacheGc } = await import('./commands/cache.js');
    process.exitCode = await cacheGc(globals(cmd));
  });
cache.command('verify')
  .description('re-hash stored files and report corrupt entries')
  .option('--remove', 'delete corrupt entries (they are recomputed by the next run)')
  .option('--json', 'machine-readable output')
  .action(async (_o, cmd: Command) => {
    const { cacheVerify } = await import('./commands/cache.js');
    process.exitCode = await cacheVerify(globals(cmd));
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = reportError(e);
}

function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
  if (e instanceof PipelineError || e instanceof UserError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  const err = e as Error;
  if (err?.name === 'StageError' || e instanceof FsProblem) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  if (fsErrorCode(e) && (e as NodeJS.ErrnoException).syscall) {
    // the filesystem refused (full disk, permissions, a path that is a file…): say where and why
    process.stderr.write(`specflow: ${fsErrorLine(e)}\n`);
    return 1;
  }
  process.stderr.write(`specflow: internal error: ${err?.stack ?? String(e)}\n`);
  return 2;
}
