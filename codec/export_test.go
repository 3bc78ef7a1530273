package codec

// DataKeyIDForTest exposes how payloads name their data key.
var DataKeyIDForTest = dataKeyID
