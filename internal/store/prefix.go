package store

// PrefixEnd returns the smallest byte string greater than every string
// with the prefix, or nil if there is none (the prefix is empty or all
// 0xff), so that a backend lists the IDs with a prefix as the range
// [prefix, PrefixEnd(prefix)) of an index.
func PrefixEnd(prefix string) []byte {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}
