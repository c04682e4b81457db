#!/usr/bin/env python3
"""Import cycles between the files of a crate: `scripts/import_cycles.py crates/server/src`.

Each file is a node; a `crate::a::b` (or `super::x`) path in it, outside its `#[cfg(test)] mod tests`,
is an edge to the file that holds that module. Prints the number of top-level modules and files,
then every strongly connected component of more than one file (a cycle). ARCHITECTURE.md says the
server has none; a new one shows here before it shows as a knot in a review.
"""
import os, re, sys
root = sys.argv[1]
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split(os.sep)
            if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
            files[tuple(parts)] = p
def resolve(path):
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in files: return tuple(path[:n])
    return None
edges = {k: set() for k in files}
for mod, p in files.items():
    src = open(p).read()
    src = re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', src, flags=re.S)
    # expand `use crate::{a, b::c}` groups roughly
    for m in re.finditer(r'crate((?:::\{[^;]*?\}|::[A-Za-z_][A-Za-z0-9_]*)+)', src):
        s = m.group(1)
        head = s.split('::{')[0]
        heads = [h for h in head.split('::') if h]
        if '::{' in s:
            inner = s[s.index('::{')+3:]
            for item in re.split(r',', inner):
                item = item.strip(' }{\n')
                segs = [x for x in re.split(r'::', item) if x and re.match(r'^[a-z_][a-z0-9_]*$', x)]
                r = resolve(heads + segs)
                if r is not None and r != mod: edges[mod].add(r)
        r = resolve(heads)
        if r is not None and r != mod and r != (): edges[mod].add(r)
    # super::
    for m in re.finditer(r'\bsuper((?:::[a-z_][a-z0-9_]*)*)', src):
        base = list(mod[:-1]) if not p.endswith('mod.rs') else list(mod[:-1])
        segs = [x for x in m.group(1).split('::') if x]
        r = resolve(base + segs)
        if r is not None and r != mod and r != (): edges[mod].add(r)
# child modules: parent declares `mod x;` -> not an import edge
index = {}; low = {}; st = []; on = set(); out = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        out.append(comp)
for v in edges:
    if v not in index: sc(v)
big = [sorted('/'.join(x) or 'lib' for x in comp) for comp in out if len(comp) > 1]
print(f"top-level modules: {len(set(k[0] for k in files if k))}; files: {len(files)}; cycles: {len(big)}")
for b in sorted(big, key=len, reverse=True): print(len(b), ' '.join(b))
