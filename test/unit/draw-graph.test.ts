/**
 * The history drawing (src/revision/draw.ts) read back as edges: every line of the art is followed
 * down from each revision, through `|`, `/`, `\` and `_`, to the revisions it reaches. The drawing
 * is right when each revision reaches exactly its down revisions, whatever the lanes do between.
 */
import { describe, expect, it } from 'vitest';
import { RevisionGraph, drawGraph, type RevisionNode } from '../../src/revision/index.js';

/** `id: down...` separated by `;`, in file order. */
function graph(spec: string): RevisionGraph {
  const revs: RevisionNode[] = spec.split(';').map((part) => {
    const [id, rest = ''] = part.trim().split(':');
    return { revision: id.trim(), downRevisions: rest.split(/\s+/).filter(Boolean), dependsOn: [], branchLabels: [], message: id.trim() };
  });
  return new RevisionGraph(revs);
}

/**
 * The edges the art draws: from each revision's node, downward. A line entering a row at column x
 * goes on through `|` at x, `\` at x+1 (to x+2 below), `/` at x-1 (to x-2 below, then left along
 * any `_` at the bottom of that row); it ends at the first node it meets.
 */
function drawnEdges(lines: { graph: string; revision?: string }[]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const at = (row: number, x: number) => lines[row]?.graph[x] ?? ' ';
  for (const [row, line] of lines.entries()) {
    if (!line.revision) continue;
    const found = new Set<string>();
    const x0 = line.graph.search(/[^|\s]/);
    const todo: [number, number][] = [[row + 1, x0]];
    const seen = new Set<string>();
    while (todo.length) {
      const [r, x] = todo.pop()!;
      if (r >= lines.length || seen.has(`${r},${x}`)) continue;
      seen.add(`${r},${x}`);
      if (lines[r].revision && /[o@*]/.test(at(r, x)) && lines[r].graph.search(/[^|\s]/) === x) {
        found.add(lines[r].revision!);
        continue;
      }
      if (at(r, x) === '|') todo.push([r + 1, x]);
      if (at(r, x + 1) === '\\') todo.push([r + 1, x + 2]);
      if (at(r, x - 1) === '/') {
        let b = x - 2;
        while (at(r, b - 1) === '_') b -= 2;
        todo.push([r + 1, b]);
      }
    }
    edges.set(line.revision, found);
  }
  return edges;
}

function check(spec: string): string[] {
  const g = graph(spec);
  const lines = drawGraph(g, g.ordered, () => 'o');
  const art = lines.map((l) => `${l.graph}  ${l.revision ?? ''}`.trimEnd());
  const edges = drawnEdges(lines);
  for (const r of g.ordered) {
    expect([...(edges.get(r.revision) ?? [])].sort(), `edges from ${r.revision} in\n${art.join('\n')}`).toEqual([...r.downRevisions].sort());
  }
  expect(lines.filter((l) => l.revision).length).toBe(g.size);
  return art;
}

describe('drawing the history: every revision is joined to its down revisions and to nothing else', () => {
  it('a lane joins the revision it leads to across the lanes between (not the lane beside it)', () => {
    const art = check('xxxx1; xxxx2: xxxx1; cccc1; dddd1: cccc1 xxxx2; yyyy1: xxxx1');
    expect(art).toContain('|_|/');
  });

  it('diamonds, one above another', () => {
    check('a; b: a; c: a; d: b c; e: d; f: d; g: e f');
  });

  it('a merge of three, and one of four', () => {
    check('a; b: a; c: a; d: a; m: b c d');
    check('a; b; c; d; m: a b c d; n: m');
  });

  it('crossing branches: merges that take their parents from either side', () => {
    check('a; b: a; c: a; d: b; e: c; m1: d e; m2: e d; x: m1 m2');
    check('r1; r2; a: r1; b: r2; m: b a; n: a; o: r2');
  });

  it('several branch points meeting at once, and unrelated bases', () => {
    check('a; b: a; c: a; d: a; e: a; f: b; z; y: z; m: c y');
    check('a1; a2: a1; r0; z1; z2: z1 a2');
  });

  it('seeded random graphs', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 200; n++) {
      const size = 2 + Math.floor(rnd() * 10);
      const parts: string[] = [];
      for (let i = 0; i < size; i++) {
        const downs = new Set<string>();
        const k = rnd() < 0.2 ? 0 : rnd() < 0.7 ? 1 : 2 + Math.floor(rnd() * 2);
        for (let j = 0; j < k && i > 0; j++) downs.add(`r${Math.floor(rnd() * i)}`);
        parts.push(`r${i}: ${[...downs].join(' ')}`);
      }
      check(parts.join('; '));
    }
  });
});
