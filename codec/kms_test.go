package codec_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/oppsync/oppsync/devstack"
)

// The codec's tests run against a real local-kms: lighter than the whole devstack, and the
// real GenerateDataKey/Decrypt wire protocol, encryption context included.
const (
	testKeyAlias = "alias/oppsync-payloads-test"
	otherAlias   = "alias/other-purpose"
)

var localKMS struct {
	once     sync.Once
	endpoint string
	err      error
	skip     string
}

// testKMS returns a client of the package's local-kms, started on first use, wrapped to
// count calls. Without the binary the test skips, or fails under CI=true.
func testKMS(t *testing.T) *countingKMS {
	t.Helper()
	localKMS.once.Do(startLocalKMS)
	if localKMS.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", localKMS.skip)
		}
		t.Skip(localKMS.skip)
	}
	if localKMS.err != nil {
		t.Fatal(localKMS.err)
	}
	return &countingKMS{Client: kms.New(kms.Options{
		Region:       devstack.Region,
		BaseEndpoint: aws.String(localKMS.endpoint),
		Credentials:  aws.AnonymousCredentials{},
	})}
}

var stopKMS func()

func TestMain(m *testing.M) {
	code := m.Run()
	if stopKMS != nil {
		stopKMS()
	}
	os.Exit(code)
}

func startLocalKMS() {
	binDir, err := devstack.DefaultBinDir()
	if err != nil {
		localKMS.err = err
		return
	}
	bin := filepath.Join(binDir, devstack.LocalKMSBin)
	if _, err := os.Stat(bin); err != nil {
		localKMS.skip = fmt.Sprintf("local-kms not found at %s; run `make tools`", bin)
		return
	}
	dir, err := os.MkdirTemp("", "oppsync-codec-kms-")
	if err != nil {
		localKMS.err = err
		return
	}
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata: {KeyId: %[1]s}
        BackingKeys: [%[2]s]
      - Metadata: {KeyId: %[3]s}
        BackingKeys: [%[4]s]
Aliases:
  - {AliasName: %[5]s, TargetKeyId: %[1]s}
  - {AliasName: %[6]s, TargetKeyId: %[3]s}
`, uuid(), hexKey(), uuid(), hexKey(), testKeyAlias, otherAlias)
	seedPath := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		localKMS.err = err
		return
	}
	port, err := freePort()
	if err != nil {
		localKMS.err = err
		return
	}
	logf, err := os.Create(filepath.Join(dir, "local-kms.log"))
	if err != nil {
		localKMS.err = err
		return
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "KMS_ACCOUNT_ID="+devstack.KMSAccountID,
		"KMS_REGION="+devstack.Region, "KMS_SEED_PATH="+seedPath, "KMS_DATA_PATH="+filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		localKMS.err = err
		return
	}
	stopKMS = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = logf.Close()
		_ = os.RemoveAll(dir)
	}
	localKMS.endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	client := kms.New(kms.Options{Region: devstack.Region, BaseEndpoint: aws.String(localKMS.endpoint),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(testKeyAlias)})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			localKMS.err = fmt.Errorf("local-kms not ready after 30s (log %s): %w", logf.Name(), err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func hexKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// countingKMS counts the KMS calls the codec makes.
type countingKMS struct {
	*kms.Client
	generate, decrypt atomic.Int64
}

func (c *countingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c.generate.Add(1)
	return c.Client.GenerateDataKey(ctx, in, opts...)
}

func (c *countingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	c.decrypt.Add(1)
	return c.Client.Decrypt(ctx, in, opts...)
}
