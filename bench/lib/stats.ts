// Small statistics for the bench's memory samples. Pure.

/** Least-squares slope of y over x (units of y per unit of x); null with fewer than two distinct x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) { sxx += (x - mx) ** 2; sxy += (x - mx) * (y - my); }
  return sxx === 0 ? null : sxy / sxx;
}
