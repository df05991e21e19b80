package badgerkv_test

import (
	"testing"

	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/badgerkv"
	"github.com/tusk-data/tusk/meta/kv/kvtest"
)

func TestConformance(t *testing.T) {
	dirs := map[kv.Store]string{}
	open := func(t *testing.T, dir string) kv.Store {
		s, err := badgerkv.Open(badgerkv.Options{Dir: dir, MemTableSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		dirs[s] = dir
		return s
	}
	kvtest.Run(t, kvtest.Options{
		New: func(t *testing.T) kv.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s kv.Store) kv.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, dirs[s])
		},
	})
}

func TestConformanceInMemory(t *testing.T) {
	kvtest.Run(t, kvtest.Options{New: func(t *testing.T) kv.Store {
		s, err := badgerkv.Open(badgerkv.Options{InMemory: true, MemTableSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}
