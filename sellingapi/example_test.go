package sellingapi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oppsync/oppsync/sellingapi"
)

// A worker builds one client per partner account: credentials from the partner's role, and one
// Limiter shared by every activity that calls on that account's behalf.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
		"arn:aws:iam::123456789012:role/OppSyncPartnerCentral"))
	limiter := sellingapi.NewDefaultLimiter()
	client := sellingapi.New(cfg, sellingapi.WithLimiter(limiter))

	_, err = client.UpdateOpportunity(ctx, &sellingapi.UpdateOpportunityInput{
		Catalog:    aws.String("Sandbox"),
		Identifier: aws.String("O1234567"),
		LifeCycle:  &sellingapi.LifeCycle{Stage: sellingapi.StageQualified},
	})
	var conflict *sellingapi.ConflictException
	var invalid *sellingapi.ValidationException
	switch {
	case errors.As(err, &conflict):
		// Someone changed the opportunity in Partner Central: fetch it and merge.
	case errors.As(err, &invalid):
		for _, fe := range invalid.ErrorList {
			fmt.Println(aws.ToString(fe.FieldName), fe.Code)
		}
	}
}

func ExampleNewListOpportunitiesPaginator() {
	ctx := context.Background()
	cfg, _ := config.LoadDefaultConfig(ctx)
	client := sellingapi.New(cfg)
	p := sellingapi.NewListOpportunitiesPaginator(client, &sellingapi.ListOpportunitiesInput{
		Catalog: aws.String("AWS"),
	}, func(o *sellingapi.ListOpportunitiesPaginatorOptions) { o.Limit = 100 })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			panic(err)
		}
		for _, o := range page.OpportunitySummaries {
			fmt.Println(aws.ToString(o.Id))
		}
	}
}
