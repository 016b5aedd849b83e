/**
 * Meta-test of the layout (docs/architecture.md › Layout): folders say where
 * code runs, imports point down and never back up, nothing imports itself
 * round a cycle, and no two modules share a name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['protocol', 'server', 'utils', 'components', 'entrypoints'];
const files = ROOTS.flatMap((dir) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f))
    .map((f) => path.join(dir, f)),
);
const known = new Set(files);

/** Each module's relative imports, resolved to files. */
const graph = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/from\s*['"](\.{1,2}\/[^'"?]+)['"]/g)].flatMap((m) => {
      const base = path.normalize(path.join(path.dirname(file), m[1]!));
      const hit = [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')].find((c) => known.has(c) && existsSync(c));
      return hit ? [hit] : [];
    });
    return [file, deps] as const;
  }),
);
const top = (file: string) => file.split(path.sep)[0]!;

describe('layout', () => {
  it('imports point down: the protocol stands alone, the server uses only it, views never reach into the worker', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        const from = top(file);
        const to = top(dep);
        const allowed =
          from === to ||
          (from === 'server' && to === 'protocol') ||
          (from === 'utils' && to === 'protocol') ||
          (from === 'components' && (to === 'utils' || to === 'protocol')) ||
          (from === 'entrypoints' && to !== 'server');
        // Within entrypoints, each runtime keeps to itself (shared code lives in utils/ or components/).
        const crossRuntime = from === 'entrypoints' && to === 'entrypoints' && file.split(path.sep)[1] !== dep.split(path.sep)[1];
        if (!allowed || crossRuntime) wrong.push(`${file} → ${dep}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no circular imports', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open') cycles.push([...trail.slice(trail.indexOf(dep)), dep].join(' → '));
        else if (!state.has(dep)) visit(dep, [...trail, dep]);
      }
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file, [file]);
    expect(cycles).toEqual([]);
  });

  it('gives no two modules of the extension the same name', () => {
    const names = new Map<string, string[]>();
    for (const file of files.filter((f) => top(f) !== 'server' && !/(^|\/)(index|main)\.tsx?$/.test(f))) {
      const name = path.basename(file).replace(/\.tsx?$/, '');
      names.set(name, [...(names.get(name) ?? []), file]);
    }
    expect([...names.values()].filter((same) => same.length > 1)).toEqual([]);
  });
});
