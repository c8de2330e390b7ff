import { it } from 'vitest';
import { generateEels } from '../../src/data/synthetic/eels.js';
import { PCA } from 'ml-pca';
import { kmeans } from 'ml-kmeans';
it('scratch', () => {
  const t = generateEels(7, { phases: 4, perClass: 100, channels: 256, dose: 50, eMin: 690, eMax: 740, includeAnomaly: true, shiftJitter: 0.15, intensityJitter: 0.1, background: 2, exponent: 3 });
  const X: number[][] = [];
  for (let i = 0; i < t.n; i++) { const r = Array.from(t.spectra.subarray(i*t.d,(i+1)*t.d)); const s = r.reduce((a,b)=>a+b,0); X.push(r.map(v=>v/s*t.d)); }
  for (const ph of ['Fe2O3','FeO','Fe3O4','amorphous']) {
    const i = t.labels!.indexOf(ph);
    const c = Array.from(t.clean!.subarray(i*t.d,(i+1)*t.d));
    const mx = Math.max(...c); const at = t.axis[c.indexOf(mx)];
    console.log(ph, 'max', mx.toFixed(1), 'at', at.toFixed(2), 'first', c[0].toFixed(1), 'last', c[255].toFixed(1), 'mean', (c.reduce((a,b)=>a+b)/256).toFixed(1));
  }
  const pca = new PCA(X); const Z = pca.predict(X, { nComponents: 3 }).to2DArray();
  const km = kmeans(Z, 4, { seed: 1, initialization: 'kmeans++' });
  // ARI
  const lab = t.labels!; const cl = km.clusters;
  const cont = new Map<string, number>(); const a = new Map<string,number>(); const b = new Map<number,number>();
  lab.forEach((l,i)=>{ const k=l+'|'+cl[i]; cont.set(k,(cont.get(k)??0)+1); a.set(l!,(a.get(l!)??0)+1); b.set(cl[i],(b.get(cl[i])??0)+1);});
  const c2 = (x:number)=>x*(x-1)/2; let sij=0; for (const v of cont.values()) sij+=c2(v); let sa=0; for (const v of a.values()) sa+=c2(v); let sb=0; for (const v of b.values()) sb+=c2(v);
  console.log([...cont.entries()].sort().join(' '));
  const e = sa*sb/c2(lab.length); console.log('ARI', (sij-e)/((sa+sb)/2-e), 'explained', pca.getExplainedVariance().slice(0,5));
});
