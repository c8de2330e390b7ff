/** Graph utilities: cycle detection and text / mermaid / dot renderings of a pipeline. */
import type { Pipeline, Variant } from './pipeline.js';
import { describeKind } from './stage-api.js';

export interface GraphNode {
  id: string;
  deps: string[];
}

/** A cycle as a closed path of ids (first === last), or undefined. */
export function findCycle(nodes: GraphNode[]): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of byId.get(id)?.deps ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const n of nodes) {
    const c = visit(n.id);
    if (c) return c;
  }
  return undefined;
}

export type DagFormat = 'text' | 'mermaid' | 'dot';

export function renderDag(p: Pipeline, format: DagFormat): string {
  switch (format) {
    case 'mermaid': return renderMermaid(p);
    case 'dot': return renderDot(p);
    default: return renderText(p);
  }
}

function edges(v: Variant): { from: string; fromPort: string; to: string; toPort: string }[] {
  const out: { from: string; fromPort: string; to: string; toPort: string }[] = [];
  for (const id of v.order) {
    const s = v.stages.get(id)!;
    for (const [port, refs] of Object.entries(s.inputs)) for (const r of refs) out.push({ from: r.stage, fromPort: r.port, to: id, toPort: port });
  }
  return out;
}

function renderText(p: Pipeline): string {
  const lines: string[] = [`pipeline ${p.name} (seed ${p.seed})`];
  const axes = Object.entries(p.sweep);
  if (axes.length) lines.push(`sweep: ${axes.map(([k, v]) => `${k} ∈ {${v.map(String).join(', ')}}`).join(' × ')} → ${p.variants.length} variants`);
  const v = p.variants[0]!;
  lines.push('');
  for (const id of v.order) {
    const s = v.stages.get(id)!;
    lines.push(`${id}  [${s.type}]`);
    for (const [port, refs] of Object.entries(s.inputs)) {
      lines.push(`  in   ${port} ← ${refs.map((r) => `${r.stage}.${r.port}`).join(', ')}`);
    }
    for (const [port, spec] of Object.entries(s.def.outputs)) lines.push(`  out  ${port}: ${describeKind(spec.kind)}`);
  }
  if (p.variants.length > 1) {
    lines.push('', 'variants:');
    for (const variant of p.variants) lines.push(`  ${variant.id}  (seed ${variant.seed})`);
  }
  return lines.join('\n');
}

function renderMermaid(p: Pipeline): string {
  const lines = ['flowchart LR'];
  p.variants.forEach((v, i) => {
    const prefix = p.variants.length > 1 ? `v${i}_` : '';
    if (p.variants.length > 1) lines.push(`  subgraph v${i}["${v.id}"]`);
    for (const id of v.order) lines.push(`    ${prefix}${id}["${id}<br/><i>${v.stages.get(id)!.type}</i>"]`);
    for (const e of edges(v)) lines.push(`    ${prefix}${e.from} -->|"${e.fromPort} → ${e.toPort}"| ${prefix}${e.to}`);
    if (p.variants.length > 1) lines.push('  end');
  });
  return lines.join('\n');
}

function renderDot(p: Pipeline): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = [`digraph ${q(p.name)} {`, '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  p.variants.forEach((v, i) => {
    const prefix = p.variants.length > 1 ? `v${i}/` : '';
    if (p.variants.length > 1) lines.push(`  subgraph ${q(`cluster_${i}`)} {`, `    label=${q(v.id)};`);
    for (const id of v.order) lines.push(`    ${q(prefix + id)} [label=${q(`${id}\n${v.stages.get(id)!.type}`)}];`);
    for (const e of edges(v)) lines.push(`    ${q(prefix + e.from)} -> ${q(prefix + e.to)} [label=${q(`${e.fromPort}→${e.toPort}`)}];`);
    if (p.variants.length > 1) lines.push('  }');
  });
  lines.push('}');
  return lines.join('\n');
}
