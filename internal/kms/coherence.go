package kms

// # Cache coherence
//
// The Service serves keys, aliases and alias lists from memory (keyring
// caches). The change feed keeps them coherent across nodes: its follower
// (package job) reads the feed and hands each changed record to
// Invalidate, and purges every cache with PurgeCaches when it cannot
// confirm them (see job's feed watchdog). Caches outside the Service (the
// grant cache, custom key store connections, the access-key directory)
// register for the kinds they hold with OnChange and for purges with
// OnPurge.

// OnChange registers fn to be called with the ID of every record of kind
// that the change feed reports changed, so that other components' caches
// (access keys, policies) stay coherent across nodes.
func (s *Service) OnChange(kind string, fn func(id string)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if s.invalidators == nil {
		s.invalidators = map[string][]func(string){}
	}
	s.invalidators[kind] = append(s.invalidators[kind], fn)
}

// OnPurge registers fn to be called whenever the caches must be dropped as
// a whole: when the change feed was truncated past this node's position,
// and while the feed cannot be read for longer than the configured grace.
// Components that cache store records outside the Service (the access-key
// directory) register here as well as with OnChange.
func (s *Service) OnPurge(fn func()) {
	s.hookMu.Lock()
	s.purgers = append(s.purgers, fn)
	s.hookMu.Unlock()
}

// Invalidate drops what the caches hold of record id of kind, which the
// change feed reports changed.
func (s *Service) Invalidate(kind, id string) {
	switch kind {
	case kindKey:
		s.keys.Invalidate(id)
	case kindAlias:
		s.aliases.Invalidate(id)
	case kindKeyAliases:
		s.keyAliases.Invalidate(id)
	default:
		s.hookMu.RLock()
		for _, fn := range s.invalidators[kind] {
			fn(id)
		}
		s.hookMu.RUnlock()
	}
}

// PurgeCaches drops every cached key, alias and registered cache.
func (s *Service) PurgeCaches() {
	s.keys.Purge()
	s.aliases.Purge()
	s.keyAliases.Purge()
	s.hookMu.RLock()
	fns := append([]func(){}, s.purgers...)
	s.hookMu.RUnlock()
	for _, fn := range fns {
		fn()
	}
}
