/**
 * The numbers behind a learning-curve plot as CSV (RFC 4180 quoting), one row per variant and x:
 *
 *   series,x,n,mean,std,min,max,band_lo,band_hi
 *
 * n = seeds covering x; std is the sample std (n − 1; 0 where n = 1); band_lo/band_hi are the edges
 * of the band as drawn (min/max or mean ∓ std), empty for a one-seed variant (no band drawn).
 * Numbers are written in JavaScript's shortest round-trip form.
 */
import { bandAt, type AggregatedSeries, type BandKind } from './curve-data.js';

function field(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function curveCsv(data: AggregatedSeries[], band: BandKind): string {
  const rows = ['series,x,n,mean,std,min,max,band_lo,band_hi'];
  for (const s of data) {
    s.x.forEach((x, i) => {
      const [lo, hi] = s.seeds > 1 ? bandAt(s, i, band).map(String) : ['', ''];
      rows.push([field(s.name), x, s.count[i], s.mean[i], s.std[i], s.min[i], s.max[i], lo, hi].join(','));
    });
  }
  return `${rows.join('\n')}\n`;
}
