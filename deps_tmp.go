package main
import (
 _ "github.com/aws/aws-sdk-go-v2/aws"
 _ "github.com/aws/aws-sdk-go-v2/config"
 _ "github.com/aws/aws-sdk-go-v2/service/sts"
 _ "github.com/BurntSushi/toml"
 _ "golang.org/x/sync/singleflight"
 _ "go.uber.org/goleak"
 _ "github.com/google/go-cmp/cmp"
 _ "golang.org/x/sys/unix"
)
func main(){}
