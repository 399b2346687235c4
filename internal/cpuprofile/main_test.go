package cpuprofile

import (
	"os"
	"testing"

	"github.com/stsd/stsd/internal/testhome"
)

func TestMain(m *testing.M) { os.Exit(testhome.Main(m)) }
