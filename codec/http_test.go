package codec_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oppsync/oppsync/codec"
)

const (
	uiOrigin  = "http://127.0.0.1:8233"
	testToken = "0123456789abcdef0123456789abcdef-test-token"
)

func codecServer(t *testing.T, c *codec.Codec) *httptest.Server {
	t.Helper()
	auth, err := codec.NewBearerToken(testToken)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.NewHTTPHandler(c, auth, uiOrigin))
	t.Cleanup(srv.Close)
	return srv
}

// remote is the SDK's own client of the remote codec protocol, as the CLI uses it.
func remote(url, token string) converter.PayloadCodec {
	return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: url,
		ModifyRequest: func(r *http.Request) error {
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		},
	})
}

func TestCodecServerDecodes(t *testing.T) {
	k := testKMS(t)
	plain := plainPayloads(t, sample, "second")
	enc := encode(t, newCodec(t, k), plain) // a worker's payloads
	srv := codecServer(t, newCodec(t, k))   // a separate codec server process

	dec, err := remote(srv.URL, testToken).Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, dec, plain)
	// /encode too (the UI sends signals and updates through it); the worker decodes it.
	reenc, err := remote(srv.URL, testToken).Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, decode(t, newCodec(t, k), reenc), plain)

	// The UI's request: from its origin, with the namespace header; CORS headers answer it.
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", uiOrigin)
	resp := do(t, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("decode from the UI: %d %v\n%s", resp.StatusCode, resp.Header, resp.body)
	}
	var got commonpb.Payloads
	if err := protojson.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, got.Payloads, plain)
}

func TestCodecServerRefusesWithoutToken(t *testing.T) {
	k := testKMS(t)
	enc := encode(t, newCodec(t, k), plainPayloads(t, sample))
	srv := codecServer(t, newCodec(t, k))
	for name, token := range map[string]string{
		"no token":       "",
		"wrong token":    "0123456789abcdef0123456789abcdef-wrong-token",
		"token prefix":   testToken[:len(testToken)-1],
		"token extended": testToken + "x",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := remote(srv.URL, token).Decode(enc)
			if err == nil || !strings.Contains(err.Error(), http.StatusText(http.StatusUnauthorized)) {
				t.Fatalf("decode with %s: err = %v, want 401", name, err)
			}
		})
	}
	for _, h := range []string{"Basic " + testToken, testToken, "Bearer"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Authorization", h)
		if resp := do(t, req); resp.StatusCode != http.StatusUnauthorized || strings.Contains(resp.body, testToken) {
			t.Errorf("Authorization %q: %d %q, want 401 without the token echoed", h[:min(len(h), 8)], resp.StatusCode, resp.body)
		}
	}
}

func TestCodecServerCORS(t *testing.T) {
	srv := codecServer(t, newCodec(t, testKMS(t)))
	preflight := func(origin string) *response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		return do(t, req)
	}
	resp := preflight(uiOrigin)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight from the UI: status %d", resp.StatusCode)
	}
	for header, want := range map[string]string{
		"Access-Control-Allow-Origin":      uiOrigin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "POST",
	} {
		if got := resp.Header.Get(header); !strings.Contains(got, want) {
			t.Errorf("preflight %s = %q, want %q", header, got, want)
		}
	}
	allow := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "content-type", "x-namespace"} {
		if !strings.Contains(allow, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allow, h)
		}
	}

	evil := preflight("https://evil.example.com")
	if evil.StatusCode == http.StatusNoContent || evil.StatusCode == http.StatusOK ||
		evil.Header.Get("Access-Control-Allow-Origin") != "" || evil.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight from another origin: %d %v, want refused without CORS headers", evil.StatusCode, evil.Header)
	}
	// Even with the token, another origin's request is refused.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
	req.Header.Set("Origin", "http://127.0.0.1:9999")
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp := do(t, req); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("POST from another origin: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestTokenFromEnv(t *testing.T) {
	t.Setenv(codec.EnvCodecTokenFile, "")
	t.Setenv(codec.EnvCodecToken, "")
	if _, err := codec.TokenFromEnv(); err == nil {
		t.Fatal("no token configured: want an error")
	}
	t.Setenv(codec.EnvCodecToken, " from-env \n")
	if tok, err := codec.TokenFromEnv(); err != nil || tok != "from-env" {
		t.Fatalf("token from env = %q, %v", tok, err)
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(codec.EnvCodecTokenFile, path)
	if tok, err := codec.TokenFromEnv(); err != nil || tok != "from-file" {
		t.Fatalf("token from file = %q, %v; the file wins over the variable", tok, err)
	}
	if _, err := codec.NewBearerToken("short"); err == nil {
		t.Fatal("a 5-character token was accepted")
	}
}

type response struct {
	*http.Response
	body string
}

func do(t *testing.T, req *http.Request) *response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{resp, string(b)}
}
