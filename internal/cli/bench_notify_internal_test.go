package cli

import "testing"

// The summary of repeated notification runs: the median of the p99
// ratios (the mean of the middle two for an even count), and each run's
// ratio in the order the runs gave them.
func TestRepeatedRunsSummary(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
		list string
	}{
		{[]float64{0.4, 0.15, 0.21}, 0.21, "0.40x, 0.15x, 0.21x"},
		{[]float64{1.5, 0.5, 2, 1}, 1.25, "1.50x, 0.50x, 2.00x, 1.00x"},
	} {
		list := ratioList(c.in)
		if got := median(c.in); got != c.want || list != c.list {
			t.Errorf("median %v = %v, list %q; want %v and %q", c.in, got, list, c.want, c.list)
		}
	}
}
