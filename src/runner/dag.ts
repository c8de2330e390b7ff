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

function edges(v: Variant): Edge[] {
  const out: Edge[] = [];
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
    lines.push(`${id}  [${s.type}]${s.def.gather && p.variants.length > 1 ? `  — runs once, over all ${p.variants.length} variants` : ''}`);
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

/**
 * A gathering stage (the sweep's report) runs once and reads every variant: drawn once, outside
 * the variants' boxes, with an edge from each variant (one report box per variant said the
 * opposite). Its edges are written outside the boxes too: Graphviz puts a node mentioned in a
 * cluster's edge into that cluster.
 */
function layout(p: Pipeline, sep: string): { shared: { id: string; type: string }[]; boxes: { label: string; nodes: { name: string; id: string; type: string }[]; edges: Edge[] }[]; sharedEdges: Edge[] } {
  const many = p.variants.length > 1;
  const gathers = new Set(many ? p.variants.flatMap((v) => v.order.filter((id) => v.stages.get(id)!.def.gather)) : []);
  const first = p.variants[0]!;
  const shared = [...gathers].map((id) => ({ id, type: first.stages.get(id)?.type ?? p.variants.find((v) => v.stages.has(id))!.stages.get(id)!.type }));
  const sharedEdges: Edge[] = [];
  const seen = new Set<string>();
  const boxes = p.variants.map((v, i) => {
    const name = (id: string): string => (gathers.has(id) ? `all${sep}${id}` : many ? `v${i}${sep}${id}` : id);
    const own: Edge[] = [];
    for (const e of edges(v)) {
      const drawn = { ...e, from: name(e.from), to: name(e.to) };
      if (!gathers.has(e.from) && !gathers.has(e.to)) own.push(drawn);
      else {
        const k = `${drawn.from}\0${drawn.to}\0${e.fromPort}\0${e.toPort}`;
        if (!seen.has(k)) { seen.add(k); sharedEdges.push(drawn); }
      }
    }
    return { label: v.id, nodes: v.order.filter((id) => !gathers.has(id)).map((id) => ({ name: name(id), id, type: v.stages.get(id)!.type })), edges: own };
  });
  return { shared, boxes, sharedEdges };
}

type Edge = { from: string; fromPort: string; to: string; toPort: string };

function renderMermaid(p: Pipeline): string {
  const lines = ['flowchart LR'];
  const many = p.variants.length > 1;
  const { shared, boxes, sharedEdges } = layout(p, '_');
  for (const n of shared) lines.push(`  all_${n.id}["${n.id}<br/><i>${n.type}, all ${p.variants.length} variants</i>"]`);
  for (const [i, b] of boxes.entries()) {
    if (many) lines.push(`  subgraph v${i}["${b.label}"]`);
    for (const n of b.nodes) lines.push(`    ${n.name}["${n.id}<br/><i>${n.type}</i>"]`);
    for (const e of b.edges) lines.push(`    ${e.from} -->|"${e.fromPort} → ${e.toPort}"| ${e.to}`);
    if (many) lines.push('  end');
  }
  for (const e of sharedEdges) lines.push(`  ${e.from} -->|"${e.fromPort} → ${e.toPort}"| ${e.to}`);
  return lines.join('\n');
}

function renderDot(p: Pipeline): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = [`digraph ${q(p.name)} {`, '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  const many = p.variants.length > 1;
  const { shared, boxes, sharedEdges } = layout(p, '/');
  for (const n of shared) lines.push(`  ${q(`all/${n.id}`)} [label=${q(`${n.id}\n${n.type}, all ${p.variants.length} variants`)}];`);
  for (const [i, b] of boxes.entries()) {
    if (many) lines.push(`  subgraph ${q(`cluster_${i}`)} {`, `    label=${q(b.label)};`);
    for (const n of b.nodes) lines.push(`    ${q(n.name)} [label=${q(`${n.id}\n${n.type}`)}];`);
    for (const e of b.edges) lines.push(`    ${q(e.from)} -> ${q(e.to)} [label=${q(`${e.fromPort}→${e.toPort}`)}];`);
    if (many) lines.push('  }');
  }
  for (const e of sharedEdges) lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(`${e.fromPort}→${e.toPort}`)}];`);
  lines.push('}');
  return lines.join('\n');
}
