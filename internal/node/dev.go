package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/devapi"
	"github.com/trentkms/trent/internal/devclock"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/server"
)

// # The development clock (trent serve --dev)
//
// With cfg.Dev the domain clock (kms.Config.Now, and the principal
// directory's, for STS session expiry) is the development clock kept in
// the store, which the administrator account's root advances through the
// development API (devapi). Without it the domain clock is the wall clock,
// and a store whose development clock was ever advanced is refused: its
// keys' dates lie in the future of the wall clock.

// openDevClock sets up the domain clock of a node: the development clock
// with cfg.Dev, else the wall clock after checking that the store never
// ran ahead.
func (n *Node) openDevClock(cfg *config.File, kcfg *kms.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !cfg.Dev {
		off, err := devclock.Stored(ctx, n.Store)
		if err != nil {
			return fmt.Errorf("development clock: %w", err)
		}
		if off > 0 {
			return fmt.Errorf("this store's domain clock was advanced by %s with trent serve --dev: its key dates, deletion and rotation dates lie ahead of the wall clock. Start it with --dev again, or use another store for anything but development", off)
		}
		return nil
	}
	c, err := devclock.Open(ctx, n.Store)
	if err != nil {
		return fmt.Errorf("development clock: %w", err)
	}
	n.DevClock = c
	kcfg.Now = c.Now
	log.Warn("development mode (--dev): the administrator account's root may advance the domain clock; never use this server for real keys",
		"clockOffset", c.Offset().String())
	return nil
}

// followDevClock keeps the node's development clock in step with other
// nodes' advances (the change feed names the clock's record; a cache purge,
// when changes may have been missed, reads it again) and makes the
// principal directory's session expiry follow it.
func (n *Node) followDevClock() {
	if n.DevClock == nil {
		n.refuseAdvancedClock()
		return
	}
	n.Service.OnChange(devclock.Kind, func(string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.DevClock.Reload(ctx); err != nil {
			n.log.Error("development clock: reading the offset another node set", "err", err)
		}
	})
	// A purge means changes may have been missed (the feed was truncated
	// past this node's position, or could not be read): among them an
	// advance, which would leave this node on an older clock until it
	// restarts. Read the clock again, off the feed's goroutine (the store
	// may be unreachable: that is one cause of purges), one read at a time.
	var reloading atomic.Bool
	n.Service.OnPurge(func() {
		if !reloading.CompareAndSwap(false, true) {
			return
		}
		go func() {
			defer reloading.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := n.DevClock.Reload(ctx); err != nil {
				n.log.Debug("development clock: reading the offset after a cache purge", "err", err)
			}
		}()
	})
	n.Directory.SetClockOffset(n.DevClock.Offset)
}

// directoryClock is the principal directory's clock: the development clock
// with --dev (sessions expire by it), else now.
func (n *Node) directoryClock(now func() time.Time) func() time.Time {
	if n.DevClock != nil {
		return n.DevClock.Now
	}
	return now
}

// devProtocols returns the development API's protocol with --dev, and
// records in the trail that development mode is on.
func (n *Node) devProtocols(cfg *config.File, log *slog.Logger, failed *authfail.Limiter) ([]server.Protocol, error) {
	if n.DevClock == nil {
		return nil, nil
	}
	if n.Audit != nil {
		off := n.DevClock.Offset()
		err := n.Audit.Append(context.Background(), &audit.Event{
			EventVersion: audit.EventVersion, UserIdentity: &audit.UserIdentity{InvokedBy: devapi.EventSource},
			EventTime: time.Now().UTC().Format("2006-01-02T15:04:05Z"), EventSource: devapi.EventSource,
			EventName: "DevelopmentModeEnabled", AWSRegion: cfg.Region, EventID: audit.NewEventID(),
			EventType: audit.EventTypeServiceEvent, ManagementEvent: true, RecipientAccountID: cfg.AccountID,
			ServiceEventDetails: map[string]any{"node": AuditNode(cfg), "clockOffsetSeconds": int64(off / time.Second), "listen": cfg.Listen},
			EventCategory:       audit.EventCategory,
		})
		if err != nil {
			return nil, fmt.Errorf("development mode: recording it in the audit trail: %w", err)
		}
	}
	h := devapi.New(devapi.Config{Clock: n.DevClock, Directory: n.Directory, Account: cfg.AccountID, Audit: n.Audit,
		Region: cfg.Region, Logger: log, FailedAuth: failed, Metrics: n.Metrics})
	return []server.Protocol{{TargetPrefix: devapi.TargetPrefix + ".", MaxBody: devapi.MaxBody, Handler: h}}, nil
}

// devEventTime returns the trail's time of a service event that happened at
// domain time t, and what to add to its record: the trail keeps the wall
// clock (CloudTrail tooling expects eventTime near real time), and a
// record made while the development clock runs ahead says so.
func (n *Node) devEventTime(t time.Time) (time.Time, map[string]any) {
	if n.DevClock == nil {
		return t, nil
	}
	off := n.DevClock.Offset()
	if off == 0 {
		return t, nil
	}
	return t.Add(-off), map[string]any{"developmentClockTime": t.UTC().Format("2006-01-02T15:04:05Z"),
		"developmentClockOffsetSeconds": int64(off / time.Second)}
}

// refuseAdvancedClock stops a node without --dev whose store's clock a
// --dev node of the same store advances, as it would refuse to start on
// that store: otherwise the cluster would run on two clocks (dates a month
// apart, sessions issued ahead valid here for the whole offset). The
// change feed names the clock's record; a purge reads it again.
func (n *Node) refuseAdvancedClock() {
	check := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		off, err := devclock.Stored(ctx, n.Store)
		if err != nil {
			n.log.Debug("development clock: reading the store's offset", "err", err)
			return
		}
		if off > 0 {
			n.stop(fmt.Errorf("another node advanced this store's domain clock by %s with trent serve --dev: a node without --dev does not serve such a store (its key dates lie ahead of the wall clock); stopping", off))
		}
	}
	n.Service.OnChange(devclock.Kind, func(string) { go check() })
	n.Service.OnPurge(func() { go check() })
}
