package meta

import (
	"context"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

func TestRecordsNamespace(t *testing.T) {
	ctx := context.Background()
	s, err := Open("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateRepo(ctx, "rec", "a"); err != nil {
		t.Fatal(err)
	}
	gw, pl := s.Records("gw/"), s.Records("pl/")
	err = gw.Update(ctx, func(rw kv.ReadWriter) error {
		// Refs read inside Update are the committer's view.
		r, err := s.ResolveIn(rw, "rec", "main")
		if err != nil || r.Commit == nil {
			t.Errorf("ResolveIn: %v", err)
		}
		for _, k := range []string{"user/b", "user/a", "key/x"} {
			if err := kv.PutJSON(rw, k, map[string]string{"k": k}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = gw.View(ctx, func(rd kv.Reader) error {
		var keys []string
		if err := kv.ScanKeys(rd, "user/", func(k string) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		if len(keys) != 2 || keys[0] != "a" || keys[1] != "b" {
			t.Errorf("keys %q", keys)
		}
		it := rd.Iter(kv.IterOptions{Reverse: true})
		defer it.Close()
		if !it.Valid() || string(it.Key()) != "user/b" {
			t.Errorf("reverse first key %q", it.Key())
		}
		it.Seek([]byte("key/y"))
		if !it.Valid() || string(it.Key()) != "key/x" {
			t.Errorf("reverse seek: %q", it.Key())
		}
		if err := rd.(kv.ReadWriter).Set([]byte("x"), nil); !errs.Is(err, errs.Invalid) {
			t.Errorf("write in View: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another namespace sees none of them, and meta's records are out of
	// reach.
	err = pl.View(ctx, func(rd kv.Reader) error {
		if ok, err := kv.GetJSON(rd, "user/a", new(map[string]string)); ok || err != nil {
			t.Errorf("pl/ sees gw/'s record: %v %v", ok, err)
		}
		if ok, _ := kv.GetJSON(rd, "../R/rec", new(Repo)); ok {
			t.Error("a namespace reads meta's records")
		}
		if _, err := s.ResolveIn(kv.Reader(nil), "rec", "main"); !errs.Is(err, errs.Invalid) {
			t.Errorf("ResolveIn outside Records: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"R/", "pv/", "gw", "", "Gw/", "a/b/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Records(%q) did not panic", ns)
				}
			}()
			s.Records(ns)
		}()
	}
}
