#!/usr/bin/env python3
# Lists the strongly connected components of a crate's file import graph (non-test files):
# every circle of files importing each other. Usage: python3 hack/import-cycles.py scheduler/src
import os,re,sys
root=sys.argv[1]
files={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if f.endswith('.rs'):
            p=os.path.join(dp,f); rel=os.path.relpath(p,root)
            if re.search(r'(^|/)(tests?|.*_tests|tests_.*|test_parts|perf_tests)\.rs$',rel) or rel.startswith('test_support') or rel.startswith('fuzz'): continue
            files[rel]=open(p).read()
def modpath(rel):
    parts=rel[:-3].split('/')
    if parts[-1] in ('mod','lib'): parts=parts[:-1]
    return parts
mods={tuple(modpath(r)):r for r in files}
def strip_tests(s):
    i=s.find('#[cfg(test)]\nmod tests {')
    return s if i<0 else s[:i]
edges={r:set() for r in files}
for rel,s in files.items():
    s=strip_tests(s)
    me=modpath(rel)
    for m in re.finditer(r'\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)',s):
        base=m.group(1); segs=m.group(2).strip(':').split('::')
        if base=='crate': path=segs
        else:
            # `super` is the parent module: for d/foo.rs that is d, for d/mod.rs d's parent.
            path=me[:-1]+segs
        # longest prefix that is a module file
        for k in range(len(path),0,-1):
            t=tuple(path[:k])
            if t in mods:
                tgt=mods[t]
                if tgt!=rel and not (tuple(me)[:len(t)]==t): edges[rel].add(tgt)
                break
# tarjan
idx={};low={};st=[];on=set();res=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in edges:
    if v not in idx: sc(v)
for r in res: print(len(r), sorted(r))
print("cycles:",len(res))
