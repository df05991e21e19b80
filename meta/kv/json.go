package kv

import (
	"encoding/json"

	"github.com/tusk-data/tusk/internal/errs"
)

// GetJSON decodes key's record into v. It reports false (and leaves v) when
// the key is absent; errors are the store's or a decoding failure
// (Internal).
func GetJSON(r Reader, key string, v any) (bool, error) {
	b, err := r.Get([]byte(key))
	if errs.Is(err, errs.NotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, errs.Wrap("kv.GetJSON", errs.Internal, err)
	}
	return true, nil
}

// PutJSON writes v as key's record. Errors: ErrTxnTooBig when the
// transaction is full (nothing written), encoding failures (Internal).
func PutJSON(w ReadWriter, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.Wrap("kv.PutJSON", errs.Internal, err)
	}
	return w.Set([]byte(key), b)
}

// ScanJSON decodes each record under prefix, in key order, and calls fn
// with its key (without the prefix). It stops at fn's first error and
// returns it.
func ScanJSON[T any](r Reader, prefix string, fn func(key string, v *T) error) error {
	return Scan(r, prefix, func(k string, b []byte) error {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return errs.Wrap("kv.ScanJSON", errs.Internal, err)
		}
		return fn(k, v)
	})
}

// ListJSON returns the records under prefix in key order.
func ListJSON[T any](r Reader, prefix string) ([]T, error) {
	var out []T
	err := ScanJSON(r, prefix, func(_ string, v *T) error {
		out = append(out, *v)
		return nil
	})
	return out, err
}

// Scan calls fn for each record under prefix in key order, with its key
// (without the prefix) and its raw value, which fn may keep.
func Scan(r Reader, prefix string, fn func(key string, v []byte) error) error {
	it := r.Iter(IterOptions{Prefix: []byte(prefix)})
	defer it.Close()
	for ; it.Valid(); it.Next() {
		v, err := it.Value()
		if err != nil {
			return err
		}
		if err := fn(string(it.Key()[len(prefix):]), append([]byte(nil), v...)); err != nil {
			return err
		}
	}
	return it.Err()
}

// ScanKeys calls fn for each key under prefix (without the prefix) in key
// order.
func ScanKeys(r Reader, prefix string, fn func(key string) error) error {
	it := r.Iter(IterOptions{Prefix: []byte(prefix), KeysOnly: true})
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := fn(string(it.Key()[len(prefix):])); err != nil {
			return err
		}
	}
	return it.Err()
}
