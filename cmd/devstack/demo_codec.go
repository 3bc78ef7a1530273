package main

// The demo's codec server: Temporal's payloads are encrypted (package codec), so the Web
// UI shows them in clear only through oppsync-codec-server, to a browser logged in there.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/devstack"
)

// codecTokenFile is the file in --dir holding the demo codec server's token (0600).
const codecTokenFile = "codec-token"

// codecServer is the demo's codec server.
type codecServer struct {
	addr string // host:port, reserved before the stack starts
	log  string
	proc *devstack.Process
}

func (c codecServer) url() string { return "http://" + c.addr }

// reservePort returns a free loopback host:port. Another process could take it before the
// codec server listens; then the codec server fails to start and says so.
func reservePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port for the codec server: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startCodecServer writes a new token to DIR/codec-token and starts the codec server with
// it, allowing the stack's Web UI as the only browser origin, and waits until it answers.
func (d *demoRun) startCodecServer(ctx context.Context) error {
	step("Starting the codec server: the Web UI shows decoded payloads only through it, to those who hold its token")
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tokenPath := filepath.Join(d.dir, codecTokenFile)
	if err := os.WriteFile(tokenPath, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the codec server's token: %w", err)
	}
	d.codec.log = filepath.Join(d.stack.LogDir(), "codec-server.log")
	// Both loopback names: a browser may open the UI as localhost or as 127.0.0.1.
	origins := d.stack.UIURL + "," + strings.Replace(d.stack.UIURL, "127.0.0.1", "localhost", 1)
	args := []string{"--listen", d.codec.addr, "--ui-origin", origins, "--log-format", "pretty"}
	env := append(d.env[:len(d.env):len(d.env)], codec.EnvCodecTokenFile+"="+tokenPath)
	var err error
	if d.codec.proc, err = devstack.StartProcess("the codec server", d.codecSrv, args, env, d.codec.log); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(d.codec.url() + "/login")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-d.codec.proc.Done():
			return fmt.Errorf("the codec server exited (%v); see %s%s", d.codec.proc.Err(), d.codec.log, tail(d.codec.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the codec server does not answer at %s; see %s%s", d.codec.url(), d.codec.log, tail(d.codec.log, 20))
		}
	}
	fmt.Printf("  %s %s  (pid %d)\n  token in %s (0600); its output goes to %s\n",
		d.rel(d.codecSrv), strings.Join(args, " "), d.codec.proc.Pid(), d.rel(tokenPath), d.rel(d.codec.log))
	fmt.Printf("  the Web UI %s calls it (--ui-codec-endpoint %s); log in at %s/login\n", d.stack.UIURL, d.codec.url(), d.codec.url())
	return nil
}
