// Package review holds what the weekly review and the insights are made
// of: the agenda, recorded reviews, the review day, and the figures of
// the insights with the one way percentiles are taken. It computes from
// facts the store reads and does no I/O itself, so both databases give
// the same answers by construction: every figure is computed here, in Go,
// from the same integers.
package review

import (
	"slices"
	"time"
)

// Summary describes a set of durations: how many, the median and the
// 90th percentile. Both percentiles are nearest-rank (see NearestRank).
type Summary struct {
	Count  int     `json:"count"`
	Median Seconds `json:"median_seconds"`
	P90    Seconds `json:"p90_seconds"`
}

// Seconds is a duration written as a number of seconds in JSON.
type Seconds float64

// Duration converts back.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// Words says it for people (see Words).
func (s Seconds) Words() string { return Words(s.Duration()) }

func seconds(d time.Duration) Seconds { return Seconds(d.Seconds()) }

// NearestRank is the p-th percentile (1 ≤ p ≤ 100) of sorted, ascending
// values by the nearest-rank method: the value at rank ⌈p·n/100⌉, the
// smallest value with at least p% of the values at or below it. It is
// always one of the values, never an interpolation, so a median of 10 and
// 20 minutes is 10 minutes (rank ⌈1⌉), and a figure can be checked by
// counting. Empty input gives 0.
func NearestRank(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	r := (p*n + 99) / 100
	r = min(max(r, 1), n)
	return sorted[r-1]
}

// Summarize sorts ds in place and summarises it.
func Summarize(ds []time.Duration) Summary {
	slices.Sort(ds)
	return Summary{Count: len(ds), Median: seconds(NearestRank(ds, 50)), P90: seconds(NearestRank(ds, 90))}
}
