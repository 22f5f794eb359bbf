package bench

import (
	"math/bits"
	"time"
)

const (
	subBits    = 7 // 128 linear sub-buckets below 2^7, then 64 per power of two
	subCount   = 1 << subBits
	halfCount  = subCount / 2
	maxShift   = 40 // values up to 2^47 ns (~39 h); larger ones are clamped
	numBuckets = subCount + maxShift*halfCount
)

// Histogram records durations in log-linear buckets, HDR-style: exact below
// 128 ns, then 64 buckets per power of two, so a reported quantile is within
// 1/64 (1.6%) of the true value. The zero value is ready to use. A Histogram
// is not safe for concurrent use; give each goroutine its own and Merge them.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits // >= 1
	if shift > maxShift {
		return numBuckets - 1
	}
	m := int(u >> uint(shift)) // in [halfCount, subCount)
	return subCount + (shift-1)*halfCount + (m - halfCount)
}

// bucketMax is the largest value that falls in bucket i.
func bucketMax(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i-subCount)/halfCount + 1
	m := int64((i-subCount)%halfCount + halfCount)
	return (m+1)<<uint(shift) - 1
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds all observations of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest observation, exactly; 0 if there is none.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest observation, exactly; 0 if there is none.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the mean observation; 0 if there is none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// observations lie: the upper bound of the bucket holding the
// ceil(q*n)-th smallest observation, clamped to [Min, Max]. It returns 0 for
// an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := bucketMax(i)
			if v > h.max || i == numBuckets-1 { // the last bucket holds all clamped values
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
