package managed

import (
	"context"
	"slices"
	"strings"

	"github.com/trentkms/trent/internal/kms"
)

// Service is one AWS service's managed key: its alias name, the service
// whose endpoint kms:ViaService names (EBS's key is used through ec2), the
// name the key's policy and description give it, and whether the service
// makes grants on it (the policy then allows kms:CreateGrant through the
// service, and kms:RevokeGrant to the account).
type Service struct {
	Alias  string
	Via    string
	Name   string
	Grants bool
}

// Services are the AWS managed keys Trent predefines in every account, by
// alias name.
var Services = []Service{
	{"alias/aws/acm", "acm", "ACM", false},
	{"alias/aws/backup", "backup", "Backup", true},
	{"alias/aws/codeartifact", "codeartifact", "CodeArtifact", false},
	{"alias/aws/codecommit", "codecommit", "CodeCommit", false},
	{"alias/aws/dms", "dms", "DMS", true},
	{"alias/aws/dynamodb", "dynamodb", "DynamoDB", true},
	{"alias/aws/ebs", "ec2", "EBS", true},
	{"alias/aws/ecr", "ecr", "ECR", true},
	{"alias/aws/elasticfilesystem", "elasticfilesystem", "EFS", true},
	{"alias/aws/es", "es", "Elasticsearch", true},
	{"alias/aws/fsx", "fsx", "FSx", true},
	{"alias/aws/glue", "glue", "Glue", false},
	{"alias/aws/kafka", "kafka", "Amazon MSK", true},
	{"alias/aws/kinesis", "kinesis", "Kinesis", false},
	{"alias/aws/kinesisvideo", "kinesisvideo", "Kinesis Video Streams", false},
	{"alias/aws/lambda", "lambda", "Lambda", false},
	{"alias/aws/lightsail", "lightsail", "Lightsail", true},
	{"alias/aws/rds", "rds", "RDS", true},
	{"alias/aws/redshift", "redshift", "Redshift", true},
	{"alias/aws/s3", "s3", "S3", false},
	{"alias/aws/sagemaker", "sagemaker", "SageMaker", true},
	{"alias/aws/secretsmanager", "secretsmanager", "SecretsManager", false},
	{"alias/aws/ses", "ses", "SES", false},
	{"alias/aws/sns", "sns", "SNS", false},
	{"alias/aws/sqs", "sqs", "SQS", false},
	{"alias/aws/ssm", "ssm", "SSM", false},
	{"alias/aws/timestream", "timestream", "Timestream", true},
	{"alias/aws/xray", "xray", "X-Ray", false},
}

// Keys is the AWS managed keys concern of one kms.Service.
type Keys struct {
	svc     *kms.Service
	byAlias map[string]*Service
	names   []string
}

var _ kms.ManagedKeys = (*Keys)(nil)

// New returns the concern over svc and registers it with svc.
func New(svc *kms.Service) *Keys {
	k := &Keys{svc: svc, byAlias: make(map[string]*Service, len(Services))}
	for i := range Services {
		s := &Services[i]
		k.byAlias[s.Alias] = s
		k.names = append(k.names, s.Alias)
	}
	slices.Sort(k.names)
	svc.SetManagedKeys(k)
	return k
}

// Predefined implements kms.ManagedKeys.
func (k *Keys) Predefined() []string { return k.names }

// Resolve implements kms.ManagedKeys: DescribeKey by any principal of the
// account, or any operation by the account's service principal of the
// alias's service, creates the key.
func (k *Keys) Resolve(ctx context.Context, account, alias, action string) (string, error) {
	s := k.byAlias[alias]
	if s == nil {
		return "", nil
	}
	c := kms.CallerFrom(ctx)
	if c == nil || c.Account != account {
		return "", nil
	}
	if action != "kms:DescribeKey" && c.Service != s.Via {
		return "", nil
	}
	return k.svc.CreateAWSManagedKey(ctx, account, alias, Description(s), Policy(s, k.svc.Partition(), k.svc.Region(), account))
}

// Description is the Description of s's key, in AWS's words.
func Description(s *Service) string {
	return "Default key that protects my " + s.Name + " data when no other key is defined"
}

// Policy is the key policy of s's key in account, as AWS writes the policy
// of an AWS managed key: the account's principals may use the key through
// the service, and the account may read its metadata directly.
func Policy(s *Service, partition, region, account string) string {
	use := `"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"`
	read := `"kms:Describe*", "kms:Get*", "kms:List*"`
	if s.Grants {
		use = `"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"`
		read = `"kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"`
	}
	id := "auto-" + strings.TrimPrefix(s.Alias, "alias/aws/") + "-2"
	return `{
  "Version" : "2012-10-17",
  "Id" : "` + id + `",
  "Statement" : [ {
    "Sid" : "Allow access through ` + s.Name + ` for all principals in the account that are authorized to use ` + s.Name + `",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ ` + use + ` ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "` + account + `",
        "kms:ViaService" : "` + s.Via + `.` + region + `.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition + `:iam::` + account + `:root"
    },
    "Action" : [ ` + read + ` ],
    "Resource" : "*"
  } ]
}`
}
