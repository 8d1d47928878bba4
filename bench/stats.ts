// Order statistics for benchmark samples. With few samples p99 is close to the maximum: the
// count is printed beside it so nobody reads more into it than there is.
export interface Summary {
  n: number
  min: number
  median: number
  p99: number
  max: number
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

const round2 = (x: number) => Math.round(x * 100) / 100

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    n: sorted.length,
    min: round2(sorted[0]),
    median: round2(percentile(sorted, 50)),
    p99: round2(percentile(sorted, 99)),
    max: round2(sorted.at(-1)!),
  }
}

export function formatSummary(s: Summary, unit = 'ms'): string {
  return `n=${s.n}  min ${s.min} ${unit}  median ${s.median} ${unit}  p99 ${s.p99} ${unit}  max ${s.max} ${unit}`
}
