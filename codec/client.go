package codec

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Environment variables of every process that talks to Temporal (worker, starter, codec
// server).
const (
	// EnvKMSKey names the vendor's payload KMS key (key id, key ARN, alias name or alias
	// ARN). It is the codec's only configuration: data keys are made and unwrapped by KMS.
	EnvKMSKey = "OPPSYNC_PAYLOAD_KMS_KEY"
	// EnvEncryption set to "off" runs without payload encryption. Anything else, or unset,
	// means on, and then EnvKMSKey is required.
	EnvEncryption = "OPPSYNC_PAYLOAD_ENCRYPTION"
)

// NewDataConverter wraps Temporal's default data converter with pc, so every payload is
// encoded to JSON or protobuf as usual and then passes through pc.
func NewDataConverter(pc converter.PayloadCodec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), pc)
}

// NewFailureConverter returns a failure converter that moves failure messages and stack
// traces into an encoded payload of dc: by default Temporal stores them in clear, and our
// errors name files, records and customers.
func NewFailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// ClientOptions builds a codec with default rotation for the KMS key keyID and returns the
// data and failure converters for client.Options. Worker and clients must use the same.
func ClientOptions(ctx context.Context, k KMS, keyID string) (converter.DataConverter, converter.FailureConverter, error) {
	c, err := New(Options{KMS: k, KeyID: keyID})
	if err != nil {
		return nil, nil, err
	}
	if err := c.Rotate(ctx); err != nil {
		return nil, nil, err
	}
	dc := NewDataConverter(c)
	return dc, NewFailureConverter(dc), nil
}

// Apply sets opts' DataConverter and FailureConverter to encrypt with c. A nil c (payload
// encryption turned off, see NewFromEnv) leaves opts unchanged.
func Apply(opts *client.Options, c *Codec) {
	if c == nil {
		return
	}
	opts.DataConverter = NewDataConverter(c)
	opts.FailureConverter = NewFailureConverter(opts.DataConverter)
}

// NewFromEnv builds the codec from the environment: the KMS key from OPPSYNC_PAYLOAD_KMS_KEY,
// and a KMS client the AWS SDK's standard way (credential chain, AWS_REGION,
// AWS_ENDPOINT_URL_KMS). It returns (nil, nil) only when OPPSYNC_PAYLOAD_ENCRYPTION=off.
//
// Encryption is required unless turned off explicitly: a forgotten variable must not make a
// worker quietly write customer PII into Temporal in clear, where it stays for the
// history's retention and in every backup.
func NewFromEnv(ctx context.Context) (*Codec, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv(EnvEncryption))); v {
	case "off":
		return nil, nil
	case "", "on":
	default:
		return nil, fmt.Errorf("%s=%q: want on or off", EnvEncryption, v)
	}
	keyID := KMSKeyFromEnv()
	if keyID == "" {
		return nil, fmt.Errorf("payload encryption: set %s to the KMS key (id, ARN or alias) that protects Temporal payloads, or %s=off to store customer data in Temporal unencrypted", EnvKMSKey, EnvEncryption)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("payload encryption: load AWS configuration for KMS: %w", err)
	}
	c, err := New(Options{KMS: kms.NewFromConfig(cfg), KeyID: keyID})
	if err != nil {
		return nil, err
	}
	// Make the first data key now: a wrong key or a missing permission stops the process
	// at startup with a clear error, not its first workflow task.
	if err := c.Rotate(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// KMSKeyFromEnv returns OPPSYNC_PAYLOAD_KMS_KEY.
func KMSKeyFromEnv() string { return strings.TrimSpace(os.Getenv(EnvKMSKey)) }
