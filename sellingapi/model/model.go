// Package model embeds AWS's Smithy 2.0 model of the Partner Central Selling API (service
// AWSPartnerCentralSelling, version 2022-07-26), the file AWS generates its SDKs from. The
// client in sellingapi is generated from it and the contract server in devstack checks
// requests against it, so both follow AWS's shapes rather than our reading of the prose docs.
package model

import _ "embed"

// JSON is the Smithy JSON AST of the service, unmodified.
//
//go:embed partnercentral-selling-2022-07-26.json
var JSON []byte
