package depsholder

import (
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/jackc/pgx/v5"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
