package k8skms

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"
)

// SocketMode is the permission of the plugin's socket: only its owner (the
// user kube-apiserver runs as, root on most control planes) may connect.
const SocketMode = 0o600

// Server serves a plugin's KMS v2 API on a unix socket.
type Server struct {
	path string
	ln   *net.UnixListener
	gs   *grpc.Server
	// dev and ino identify the socket's inode, so Stop removes path only
	// while it is still this server's socket.
	dev, ino uint64
}

// Listen creates the unix socket path, with mode [SocketMode] from its
// creation on (it is bound in a private directory and renamed into place,
// so no one can connect while its mode is wider), and returns a server for
// p on it. A stale socket at path (one nothing answers on) is replaced; a
// live one, or a file that is not a socket, is an error. The directory of
// path must exist.
func Listen(path string, p kmsservice.Service) (*Server, error) {
	path = filepath.Clean(path)
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".k8s-kms-plugin-")
	if err != nil {
		return nil, fmt.Errorf("k8s-kms-plugin: socket directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The private directory is 0700; the socket in it is narrowed to 0600
	// before it is visible at path.
	bound := filepath.Join(tmp, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: bound, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("k8s-kms-plugin: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(bound, SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("k8s-kms-plugin: socket mode: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(bound, &st); err != nil {
		ln.Close()
		return nil, fmt.Errorf("k8s-kms-plugin: socket: %w", err)
	}
	if err := os.Rename(bound, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("k8s-kms-plugin: socket: %w", err)
	}
	gs := grpc.NewServer(grpc.ConnectionTimeout(10 * time.Second))
	kmsapi.RegisterKeyManagementServiceServer(gs, kmsservice.NewGRPCService(path, 0, p))
	return &Server{path: path, ln: ln, gs: gs, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Serve serves until Stop; it returns nil after Stop.
func (s *Server) Serve() error {
	err := s.gs.Serve(s.ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop stops accepting calls, waits for the calls in progress until ctx
// ends (then ends them), and removes the socket.
func (s *Server) Stop(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.gs.Stop()
		<-done
	}
	// Remove the socket only if it is still ours: another plugin may have
	// replaced it meanwhile.
	if fi, err := os.Lstat(s.path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && uint64(st.Dev) == s.dev && st.Ino == s.ino {
			os.Remove(s.path)
		}
	}
}

// removeStale removes a socket at path that nothing answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("k8s-kms-plugin: socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("k8s-kms-plugin: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("k8s-kms-plugin: another process serves on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("k8s-kms-plugin: removing stale socket: %w", err)
	}
	return nil
}
