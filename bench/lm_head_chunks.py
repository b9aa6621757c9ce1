"""The LM head's NumPy path against its chunk size (issue 17): time of value + gradients of
linear_cross_entropy at N = 4096, d = 512, V = 32768, float32, best of 2 in one process, with
the naive logits (H @ W.T whole) beside it. Run: ``python bench/lm_head_chunks.py``."""

import time, numpy as np, losslab as ll
rng=np.random.default_rng(0); n,d,v=4096,512,32768
h=rng.normal(size=(n,d)).astype(np.float32); W=(rng.normal(size=(v,d))*4/np.sqrt(d)).astype(np.float32); t=rng.integers(0,v,n)
def naive():
    z=h@W.T; z-=z.max(1,keepdims=True); e=np.exp(z); s=e.sum(1); loss=np.mean(np.log(s)-z[np.arange(n),t])
    g=e/(s[:,None]*n); g[np.arange(n),t]-=1.0/n; return loss, g@W, g.T@h
def best(f):
    f(); ts=[]
    for _ in range(2):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return min(ts)
print("naive numpy", round(best(naive),2))
for c in (None, 512, 1024, 2048, 4096):
    L=ll.LinearCrossEntropy(chunk_size=c)
    print("chunk", c or "default (48 MiB: 384)", round(best(lambda: L.value_and_gradient(h,W,t)),2))
