package sellingcontract

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigV4 is a parsed SigV4 Authorization header.
type sigV4 struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

func parseAuthorization(h string) (sigV4, bool) {
	var a sigV4
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
				return a, false
			}
			a.accessKeyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.accessKeyID != "" && len(a.signedHeaders) > 0 && a.signature != ""
}

// authenticate checks the SigV4 Authorization header and returns the caller's account.
// The credential scope must name the service; the signature is verified only when the
// resolver knows the key's secret.
func (s *Server) authenticate(r *http.Request, body []byte) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", authError("MissingAuthenticationTokenException", http.StatusForbidden, "Missing Authentication Token")
	}
	a, ok := parseAuthorization(h)
	if !ok {
		return "", authError("IncompleteSignatureException", http.StatusBadRequest,
			"Authorization header requires 'Credential' (AKID/date/region/service/aws4_request), 'SignedHeaders' and 'Signature' of an AWS4-HMAC-SHA256 signature")
	}
	if a.service != SigningName {
		return "", authError("InvalidSignatureException", http.StatusForbidden,
			"Credential should be scoped to correct service: '"+SigningName+"'.")
	}
	if a.region != s.region {
		return "", authError("InvalidSignatureException", http.StatusForbidden,
			"Credential should be scoped to a valid region. (sellingcontract: the Selling API is served from "+s.region+" only)")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) {
		return "", authError("IncompleteSignatureException", http.StatusBadRequest,
			"the request needs an X-Amz-Date header (yyyyMMddTHHmmssZ) on the credential scope's date")
	}
	p, ok := s.resolve(a.accessKeyID)
	if !ok {
		return "", authError("UnrecognizedClientException", http.StatusForbidden, "The security token included in the request is invalid.")
	}
	if p.SecretAccessKey != "" && !s.signatureMatches(r, body, a, p, signedAt) {
		return "", authError("InvalidSignatureException", http.StatusForbidden,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return p.AccountID, nil
}

// signatureMatches signs a copy of the request carrying only the headers the client
// signed, with the principal's secret, and compares the signatures.
func (s *Server) signatureMatches(r *http.Request, body []byte, a sigV4, p Principal, at time.Time) bool {
	clone, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	clone.Host = r.Host
	clone.ContentLength = int64(len(body))
	for _, name := range a.signedHeaders {
		switch name {
		case "host", "content-length", "x-amz-date":
			continue
		}
		for _, v := range r.Header.Values(name) {
			clone.Header.Add(name, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: p.SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, hex.EncodeToString(sum[:]), a.service, a.region, at); err != nil {
		return false
	}
	got, ok := parseAuthorization(clone.Header.Get("Authorization"))
	return ok && hmac.Equal([]byte(got.signature), []byte(a.signature))
}
