package arn

import "strings"

// ARN is an Amazon Resource Name split into its fields.
type ARN struct {
	Partition string // aws, aws-cn, aws-us-gov
	Service   string // kms, iam, sts
	Region    string // empty for global services (iam, sts)
	Account   string
	Resource  string // key/ID, alias/NAME, user/PATH/NAME, ...
}

// fields splits s at its first five colons. n is the number of fields
// found (1 to 6); the last one runs to the end of s.
func fields(s string) (f [6]string, n int) {
	for n < 5 {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			break
		}
		f[n], s = s[:i], s[i+1:]
		n++
	}
	f[n] = s
	return f, n + 1
}

// Parse splits s, which must begin with "arn:" and have at least six
// colon-separated fields; it reports false otherwise. Resource is
// everything after the fifth colon. No field is checked further.
func Parse(s string) (a ARN, ok bool) {
	// Cutting field by field into a is a third faster than fields.
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ARN{}, false
	}
	if a.Partition, rest, ok = strings.Cut(rest, ":"); !ok {
		return ARN{}, false
	}
	if a.Service, rest, ok = strings.Cut(rest, ":"); !ok {
		return ARN{}, false
	}
	if a.Region, rest, ok = strings.Cut(rest, ":"); !ok {
		return ARN{}, false
	}
	if a.Account, a.Resource, ok = strings.Cut(rest, ":"); !ok {
		return ARN{}, false
	}
	return a, true
}

// Split splits s at its first five colons into six fields like Parse, but
// without looking at any of them, the first included (it need not be
// "arn"): for comparing an ARN with a pattern field by field (ArnLike). It
// reports false if s has fewer than five colons.
func Split(s string) (f [6]string, ok bool) {
	f, n := fields(s)
	return f, n == 6
}

// Field returns the i-th field of s (0 is "arn", 3 the region, 4 the
// account, 5 the resource) without checking that s is an ARN: a field runs
// to the next colon or to the end of s, so that a string cut short still
// has its first fields, and the field is "" if s has fewer than i colons.
// It is for a caller that wants one field of whatever it was given.
func Field(s string, i int) string {
	if i < 0 || i > 5 {
		return ""
	}
	// Skipping to the field is faster than fields, which keeps them all.
	for n := i; n > 0; n-- {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
	if i < 5 {
		if j := strings.IndexByte(s, ':'); j >= 0 {
			s = s[:j]
		}
	}
	return s
}

// String returns the ARN in its text form.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Name returns what follows the last '/' of s: the name of the user or
// role an IAM ARN names (arn:aws:iam::111122223333:role/path/NAME), or the
// session of a role session ARN. It returns s if s has no '/'.
func Name(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

// ValidAccountID reports whether s is an AWS account ID: exactly 12
// decimal digits.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PartitionOf returns the partition of an AWS Region: aws-cn for the
// Regions in China (cn-*), aws-us-gov for GovCloud (us-gov-*), and aws for
// every other Region.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
