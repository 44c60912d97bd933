package job

import (
	"fmt"
	"io"
	"os"
)

// InputKeys lists the id keys of the shard's rows of an input file, in
// input order. Lines without a usable id are left out (a job reports them
// in its errors file); an id twice is an error.
func InputKeys(path string, shard Shard) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	seen := map[string]int{}
	lr := NewLineReader(f)
	for {
		b, err := lr.Next()
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if IsBlank(b) {
			continue
		}
		k, id, err := RowID(b)
		if err != nil {
			continue
		}
		if first, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s: ids must be unique: id %s on lines %d and %d", path, id, first, lr.Line)
		}
		seen[k] = lr.Line
		if shard.Has(k) {
			keys = append(keys, k)
		}
	}
}
